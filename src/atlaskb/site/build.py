"""`build_site`: the knowledge base rendered as a static, self-contained site.

One Jinja2 Environment (`site.templates`: autoescape on, strict undefined so a template
slip fails the build instead of printing blanks) renders every page from one precomputed
`SiteModel`.
Everything is written into a temporary folder that replaces the output folder only when
the whole build succeeded (`fsutil.output_dir`, which also keeps the files in the output
that atlaskb did not write, such as a `CNAME` or `.git/`), so a failed build leaves the
previous site in place. Output depends only on the input: no clock, no absolute paths, sorted
iteration everywhere, so two builds are byte-identical.
"""

from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import jinja2

from atlaskb import __version__
from atlaskb.errors import UsageError
from atlaskb.fsutil import output_dir, plan_replace
from atlaskb.kb import KnowledgeBase
from atlaskb.model import CASE_STUDY, MITIGATION, TACTIC, TECHNIQUE
from atlaskb.site import evidence_pages, scale, statuses
from atlaskb.site.context import SiteModel, build_model
from atlaskb.site.coverage_page import RECOMMENDATIONS, coverage_view
from atlaskb.site.links import Linker
from atlaskb.site.matrix_data import FILE as MATRIX_DATA_FILE
from atlaskb.site.matrix_data import evidence_legend, matrix_data, matrix_script
from atlaskb.site.search import index_script
from atlaskb.site.templates import check_user_dir, copy_static, make_environment, template_failure
from atlaskb.site.urls import FOLDERS, OTHER_FOLDER, TYPE_PLURALS, folder_of, root_of

# What the site's manifest calls it (`fsutil`): a folder whose manifest says otherwise
# is not replaced by a site.
KIND = "site"
LABEL = "atlaskb site build"

PAGE_TEMPLATES = {TACTIC: "tactic.html", TECHNIQUE: "technique.html", MITIGATION: "mitigation.html",
                  CASE_STUDY: "case_study.html"}
OTHER_OBJECT_TEMPLATE = "other_object.html"  # objects of a type without a template of its own


@dataclass
class BuildResult:
    out_dir: str
    pages: int = 0
    files: int = 0
    seconds: float = 0.0
    coverage: bool = False
    evidence_edges: int = 0
    problems: int = 0
    warnings: list = field(default_factory=list)


class _Writer:
    """Renders templates into the build folder and counts what it wrote.

    Files are written by a few background threads: creating 10,000 small files is
    mostly time in the kernel, which then overlaps with rendering the next pages. At most
    `MAX_PENDING` pages wait in memory; `close()` waits for all and re-raises the first
    write error, so a failed write fails the build (and the atomic swap never happens).
    """

    WORKERS = 4
    MAX_PENDING = 256

    def __init__(self, env: jinja2.Environment, out: str, common: dict):
        self.env, self.out, self.common = env, out, common
        self.pages = 0
        self._templates: dict[str, jinja2.Template] = {}
        self._made: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=self.WORKERS, thread_name_prefix="atlaskb-site-write")
        self._pending: deque = deque()

    def page(self, template: str, path: str, **context) -> None:
        tpl = self._templates.get(template)
        if tpl is None:
            tpl = self._templates[template] = self.env.get_template(template)
        text = tpl.render(**self.common, root=root_of(path), page_path=path, **context)
        self.write(path, text)
        self.pages += 1

    def write(self, path: str, text: str) -> None:
        full = os.path.join(self.out, path)
        folder = os.path.dirname(full)
        if folder not in self._made:
            os.makedirs(folder, exist_ok=True)
            self._made.add(folder)
        self._pending.append(self._pool.submit(_write_file, full, text))
        while len(self._pending) > self.MAX_PENDING:
            self._pending.popleft().result()

    def close(self) -> None:
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _write_file(full: str, text: str) -> None:
    with open(full, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def build_site(kb: KnowledgeBase, out_dir: str, *, have=None, profile=None, evidence_dir=None,
               evidence=None, templates: str | None = None) -> BuildResult:
    """Render `kb` into `out_dir` (replaced atomically).

    `have` (mitigation IDs) or `profile` (an `atlaskb.coverage.Profile`) add the coverage
    page and colour the matrix by coverage; `evidence_dir` (one folder or several) reads
    reference-defense results (`atlaskb.evidence.load_evidence`) and re-encodes their plots
    into the site; `evidence` passes an `Evidence` mapping already read. `templates` is a
    user's folder of templates over ours (`site.templates`); an error in one raises
    `site.templates.TemplateFailure` and leaves the previous site. The knowledge base is
    not changed.
    """
    start = time.perf_counter()
    check_out_dir(out_dir)
    if templates is not None:
        check_user_dir(templates, out_dir)
    env = make_environment(templates)
    result = BuildResult(out_dir=out_dir)
    if evidence_dir is not None and evidence is None:
        evidence = _read_evidence(evidence_dir)
    model = build_model(kb, evidence)
    statuses_read = _attach_statuses(model, evidence, result.warnings)
    coverage, claimed_vs_supported = _coverage(model, have, profile, statuses_read)
    edges, by_pair, plots = evidence_pages.collect(model, evidence)
    result.coverage = coverage is not None
    result.evidence_edges = len(edges)
    result.problems = len(kb.findings)

    common = _common_context(model, coverage, claimed_vs_supported, by_pair, bool(edges))
    with output_dir(out_dir, KIND, LABEL) as tmp:
        result.pages = _write_pages(env, tmp, common, model, coverage, edges, templates)
        evidence_pages.write_plots(plots, tmp)
        result.files = sum(len(files) for _, _, files in os.walk(tmp))
    result.seconds = time.perf_counter() - start
    return result


def _read_evidence(evidence_dir):
    """One evidence folder or several, read (`atlaskb.evidence.load_evidence`)."""
    from atlaskb.evidence import load_evidence

    dirs = [evidence_dir] if isinstance(evidence_dir, (str, os.PathLike)) else list(evidence_dir)
    for d in dirs:
        if not os.path.isdir(d):
            raise UsageError(f"evidence folder {d} does not exist")
    return load_evidence(dirs)


def _attach_statuses(model: SiteModel, evidence, warnings: list):
    """The evidence status of every mitigates link into `model.link_status`, with a warning
    for measured links the graph lacks and for results without a paired verdict.
    Returns the `LinkStatuses` read (None without evidence)."""
    if evidence is None:
        return None
    from atlaskb.evidence import missing_links
    from atlaskb.linkstatus import of_evidence

    kb = model.kb
    for finding in missing_links(kb, evidence):
        if finding.message not in warnings:
            warnings.append(finding.message)
    # Results from before paired verdicts are still shown, but no status is read from them.
    statuses_read = of_evidence(kb, evidence, strict=False)
    model.link_status = statuses_read.statuses(kb)
    if statuses_read.unjudged:
        n = len(statuses_read.unjudged)
        warnings.append(f"{n} link{'s' if n != 1 else ''} with results that carry no paired verdict "
                        "(written before verdicts): shown without an evidence status; "
                        "run `atlaskb defend run` again")
    return statuses_read


def _coverage(model: SiteModel, have, profile, statuses_read) -> tuple:
    """(coverage view, claimed-vs-supported comparison): None each when no mitigations
    are given, the comparison also when there are no judged results."""
    if have is None and profile is None:
        return None, None
    view = coverage_view(model, have=have, profile=profile)
    if statuses_read is None or statuses_read.unjudged:
        return view, None
    return view, statuses.claimed_vs_supported(model, statuses_read, have=have, profile=profile,
                                               recommendations=RECOMMENDATIONS)


def _common_context(model: SiteModel, coverage, claimed_vs_supported, evidence_for: dict,
                    has_evidence: bool) -> dict:
    """What every page's template sees besides its own object."""
    if coverage is not None:
        cells = coverage.cells
    else:
        counts = {t: len(model.mitigations_of.get(t, [])) for t in model.ids_by_type.get(TECHNIQUE, [])}
        cells = scale.mitigation_cells(counts)
    linker = Linker(cells)
    return {
        "link": linker.link,
        "heat_class": linker.heat_class,
        "heat_value": linker.heat_value,
        "site": _site_info(model, coverage is not None, has_evidence),
        "model": model,
        "coverage": coverage,
        "claimed_vs_supported": claimed_vs_supported,
        "status_summary": statuses.mitigation_summary if model.link_status else None,
        "evidence_for": evidence_for,
        "cells": cells,
        "cell_attrs": linker.cell_attrs,
        "legend_counts": scale.MITIGATION_BINS,
        "legend_coverage": scale.COVERAGE_BINS,
        "legend_short": scale.SHORT_LABELS,
    }


def _write_pages(env: jinja2.Environment, out: str, common: dict, model: SiteModel, coverage, edges,
                 user_templates: str | None) -> int:
    """Every page, the static files and the matrix's data into `out`; the page count.
    With a user's templates, an error a template causes becomes a TemplateFailure."""
    writer = _Writer(env, out, common)
    try:
        copy_static(out, user_templates)
        writer.write("static/palette.css", "/* generated from atlaskb.site.scale */\n" + scale.css())
        _render_all(writer, model, coverage, edges)
        initial = None if coverage is None else {"have": coverage.have, "strength": coverage.strength}
        writer.write(MATRIX_DATA_FILE, matrix_script(matrix_data(model, initial, bool(edges))))
    except Exception as e:
        failure = template_failure(e, user_templates) if user_templates is not None else e
        if failure is e:
            raise
        raise failure from None
    finally:
        writer.close()
    return writer.pages


def check_out_dir(out_dir: str) -> None:
    """Refuse, before any work, an --out that a site may not replace (`fsutil`'s rule)."""
    plan_replace(out_dir, KIND, LABEL)


def _render_all(writer: _Writer, model: SiteModel, coverage, edges) -> None:
    writer.page("home.html", "index.html", columns=model.matrix_columns(),
                unplaced=model.unplaced_techniques(), has_evidence=bool(edges),
                evidence_legend=evidence_legend() if edges else None,
                mitigations=[(model.refs[m], len(model.techniques_mitigated.get(m, [])))
                             for m in model.ids_by_type.get(MITIGATION, [])])
    for obj_type, ids in sorted(model.ids_by_type.items(), key=lambda kv: folder_of(kv[0])):
        folder = folder_of(obj_type)
        refs = [model.refs[i] for i in ids]
        label = TYPE_PLURALS.get(obj_type or "", "Other objects")
        writer.page("list.html", f"{folder}/index.html", obj_type=obj_type, title=label, refs=refs)
        template = PAGE_TEMPLATES.get(obj_type, OTHER_OBJECT_TEMPLATE)
        for object_id in ids:
            data = model.kb.graph.nodes[object_id]
            writer.page(template, model.urls[object_id], obj=model.refs[object_id], data=data,
                        description=model.description_html.get(object_id, ""),
                        findings=model.findings_of.get(object_id, []))
    writer.page("search.html", "search.html")
    writer.write("search-index.js", index_script(model))
    writer.page("problems.html", "problems.html", findings=_grouped_findings(model))
    if edges:
        writer.page("evidence.html", "evidence/index.html", edges=edges)
    if coverage is not None:
        writer.page("coverage.html", "coverage.html")


def _grouped_findings(model: SiteModel) -> list[dict]:
    """Source problems by file, each file linked to the object page it defines."""
    by_file: dict[str, dict] = {}
    owners: dict[str, list] = {}
    for object_id, items in model.findings_of.items():
        for f in items:
            owners.setdefault(f.file, [])
            if model.refs[object_id] not in owners[f.file]:
                owners[f.file].append(model.refs[object_id])
    for f in model.kb.findings:
        entry = by_file.setdefault(f.file, {"file": f.file, "objects": owners.get(f.file, []), "items": []})
        entry["items"].append(f)
    return [by_file[k] for k in sorted(by_file)]


def _site_info(model: SiteModel, has_coverage: bool, has_evidence: bool) -> dict:
    counts = {t: len(model.ids_by_type.get(t, [])) for t in FOLDERS}
    nav = [(f"{FOLDERS[t]}/index.html", TYPE_PLURALS[t]) for t in FOLDERS if counts[t]]
    if OTHER_FOLDER and any(t not in FOLDERS for t in model.ids_by_type):
        nav.append((f"{OTHER_FOLDER}/index.html", "Other"))
    if has_coverage:
        nav.append(("coverage.html", "Coverage"))
    if has_evidence:
        nav.append(("evidence/index.html", "Evidence"))
    sources = [os.path.basename(str(s.get("path", "")).rstrip("/\\")) or "?" for s in model.kb.sources]
    return {
        "title": "ATLAS knowledge base",
        "version": __version__,
        "counts": counts,
        "nav": nav,
        "sources": sources,
        "problems": len(model.kb.findings),
        "broken_links": sum(1 for f in model.kb.findings if f.code == "broken-link"),
        "link_only": sum(1 for r in model.refs.values() if not r.has_page),
    }
