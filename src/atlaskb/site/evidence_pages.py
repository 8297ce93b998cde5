"""Measured reference-defense results on `mitigates` edges, made presentable.

`atlaskb.evidence.load_evidence` maps each measured link to its result dicts (technique,
attack, metric, higher_is_better, baseline, defended, ci95, difference, verdict,
threat_model, summary, params, plots).
Here each result becomes a table row with the change and a plain-words verdict, and each
plot goes into the site under ``evidence/files/`` so the site stays self-contained.

An evidence folder is untrusted input, and the site must never serve what could run:
an SVG can carry `<script>` (and runs it when opened full size), and a file named `.png`
can be anything. So a plot is served only as a PNG that was decoded and written again
here (Pillow, bounded in bytes and pixels), never copied as is; SVG and other formats are
named on the page as not served. Plot paths come from the results file, so they are
checked: relative, inside the evidence folder with no symbolic link on the way (every
component, not only the last), an existing regular file; anything else is listed as
missing, never linked.
"""

from __future__ import annotations

import io
import json
import os
import stat
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from atlaskb.evidence import attack_label, is_quick, rounded
from atlaskb.site.context import SiteModel

IMAGE_TYPES = {".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp"}
SERVED_TYPES = {".png"}  # re-encoded before serving; the rest are named, never served
MAX_PLOT_BYTES = 20 * 1024 * 1024
MAX_PLOT_PIXELS = 40_000_000
SITE_FOLDER = "evidence/files"
METRIC_LABELS = {
    "robust_accuracy": "robust accuracy",
    "attack_success_rate": "attack success rate",
    "identification_accuracy": "identification accuracy",
    "accuracy": "accuracy",
    "queries": "queries used",
    "auc": "AUC",
    "true_positive_rate": "true-positive rate",
    "fidelity": "fidelity",
    "detection_auc": "detection AUC",
    "residual_corruption": "residual label corruption",
}


@dataclass
class EvidenceRow:
    attack: str
    metric: str
    baseline: str
    defended: str
    change: str
    verdict: str  # "better" | "worse" | "no change" | "no clear difference" | ""
    ci95: str
    params: str  # the scalar parameters, one line
    params_full: str  # every parameter, as indented JSON
    missing: list = field(default_factory=list)  # plot paths that could not be used
    not_served: list = field(default_factory=list)  # plots of a type the site does not serve
    direction: str = ""  # "higher is better" | "lower is better" | ""
    baseline_ci: str = ""  # "[lo, hi]", or "" (none given, or one seed: no spread to show)
    defended_ci: str = ""
    verdict_note: str = ""  # why the verdict says what it says (a tooltip)
    also: list = field(default_factory=list)  # [(label, mean, interval)] from params.extra
    difference_ci: str = ""  # the paired interval of defended - baseline
    summary: str = ""  # one sentence: the threat model and the caveat

    @property
    def attack_html(self) -> Markup:
        """The attack's name, escaped, with break opportunities after its underscores so a
        long identifier wraps at a word instead of in the middle of one."""
        return Markup(str(escape(self.attack)).replace("_", "_<wbr>"))


@dataclass
class Figure:
    src: str  # path in the site
    caption: str
    alternates: list = field(default_factory=list)  # [(path in the site, format label)]


@dataclass
class EdgeEvidence:
    mitigation: object
    technique: object
    rows: list
    figures: list = field(default_factory=list)
    setup: str = ""  # backend, device, data set, clean accuracy, seeds
    quick: bool = False  # measured with --quick: indicative only


def _number(value, digits: int = 3) -> str:
    """A measured figure to a fixed number of decimals (`_DIGITS`), so that a column of
    them lines up and a reader sees the precision; integers and text as they are."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


# Figures that count things (queries) read best with one decimal; rates and accuracies
# with three (a difference of one test input in a few hundred still shows).
_DIGITS = {"queries": 1}


def _pair(value):
    """(lo, hi) when `value` is a two-number interval, else None."""
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        return float(value[0]), float(value[1])
    return None


def _interval(value, digits: int = 3, single_seed: bool = False) -> str:
    pair = _pair(value)
    if pair is not None:
        if single_seed and pair[0] == pair[1]:
            return "no interval (1 seed)"
        return f"[{_number(pair[0], digits)}, {_number(pair[1], digits)}]"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_interval(v, digits, single_seed)}"
                         for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
    return _number(value, digits)


def _params(value) -> str:
    """The scalar parameters as `k=v`; nested detail (per-seed lists, extra measures)
    goes to the full listing instead of crowding the table."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={_param_value(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                         if not isinstance(v, (dict, list, tuple)))
    return "" if value is None else str(value)


def _param_value(value) -> str:
    """A setting as written (eps=0.1, not eps=0.100): parameters are inputs, not measurements."""
    if isinstance(value, float) and not isinstance(value, bool):
        return format(value, ".6g")
    return _number(value)


def _also(params, digits: int, single_seed: bool) -> list:
    """Other figures the run measured for this row (`params.extra`: the majority vote, a
    compromised member on its own, ...), as (label, mean, interval) for the table, so a
    reader need not dig them out of the JSON listing."""
    extra = params.get("extra") if isinstance(params, dict) else None
    if not isinstance(extra, dict):
        return []
    out = []
    for key in sorted(extra, key=str):
        v = extra[key]
        mean = v.get("mean") if isinstance(v, dict) else v
        if not isinstance(mean, (int, float)) or isinstance(mean, bool):
            continue
        ci = (_interval(v.get("ci95"), digits) if isinstance(v, dict) and _pair(v.get("ci95")) and not single_seed
              else "")
        out.append((str(key).replace("_", " "), _number(mean, digits), ci))
    return out


def _params_full(value) -> str:
    if not isinstance(value, dict) or not any(isinstance(v, (dict, list, tuple)) for v in value.values()):
        return ""
    return json.dumps(rounded(value, 3), indent=1, sort_keys=True, default=str)


def _setup(meta: dict) -> str:
    """One sentence on how the measurement was made, from the results file's header."""
    if not isinstance(meta, dict):
        return ""
    parts = []
    if meta.get("dataset"):
        parts.append(f"data set {meta['dataset']}")
    if meta.get("backend"):
        parts.append(f"{meta['backend']} backend" + (f" on {meta['device']}" if meta.get("device") else ""))
    clean = meta.get("clean_accuracy")
    if isinstance(clean, dict) and clean:
        parts.append("clean accuracy " + ", ".join(f"{k} {_number(v)}" for k, v in sorted(clean.items())))
    prov = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    seeds = prov.get("seeds")
    if isinstance(seeds, list) and seeds:
        parts.append(f"{len(seeds)} seeds" if len(seeds) != 1 else "1 seed, so no 95% intervals")
    return "; ".join(parts)


def _verdict(result: dict, digits: int = 3, n_seeds: int | None = None) -> tuple[str, str, str]:
    """(change, verdict, note). The verdict names a direction only when the data support
    one: when both sides' 95% intervals are given and overlap, the change is within the
    spread over seeds and reads "no clear difference"; one seed has no spread to judge by."""
    base, defended = result.get("baseline"), result.get("defended")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (base, defended)):
        return "", "", ""
    delta = defended - base
    change = f"{delta:+.{digits}f}" if isinstance(delta, float) else f"{delta:+d}"
    if abs(delta) < 1e-12:
        return change, "no change", ""
    higher = result.get("higher_is_better")
    if not isinstance(higher, bool):
        return change, "", ""
    direction = "better" if (delta > 0) == higher else "worse"
    diff = result.get("difference") if isinstance(result.get("difference"), dict) else None
    if diff is not None and _pair(diff.get("ci95")) and result.get("verdict") in ("better", "worse",
                                                                                  "no clear difference"):
        lo, hi = _pair(diff["ci95"])
        note = (f"the paired 95% interval of defended - baseline is [{lo:+.{digits}f}, {hi:+.{digits}f}]"
                + ("; it includes 0" if result["verdict"] == "no clear difference" else "; it excludes 0"))
        return change, result["verdict"], note
    ci = result.get("ci95") if isinstance(result.get("ci95"), dict) else {}
    b, d = _pair(ci.get("baseline")), _pair(ci.get("defended"))
    if n_seeds == 1:
        return change, direction, "one seed: no interval, so the change may be noise"
    if b and d and b[0] <= d[1] and d[0] <= b[1] and (b[0] < b[1] or d[0] < d[1]):
        return change, "no clear difference", (f"the change points {direction}, but the 95% intervals "
                                                "of baseline and defended overlap")
    return change, direction, ""


def _seed_count(result: dict, n_seeds: int | None) -> int | None:
    if n_seeds:
        return n_seeds
    per = (result.get("params") or {}).get("per_seed") if isinstance(result.get("params"), dict) else None
    if isinstance(per, dict) and isinstance(per.get("baseline"), list):
        return len(per["baseline"]) or None
    return None


def safe_plot_path(evidence_dir: str, rel: object) -> str | None:
    """`rel` normalised when it names an image file inside `evidence_dir` reached without
    any symbolic link (a linked folder `leak -> ../../outside` is refused as surely as a
    linked file), else None."""
    if not isinstance(rel, str) or not rel or os.path.isabs(rel) or "\\" in rel or "\x00" in rel:
        return None
    if not _printable_name(rel):
        return None
    norm = os.path.normpath(rel).replace(os.sep, "/")
    if norm.startswith("../") or norm == ".." or norm.startswith("/") or norm == ".":
        return None
    if os.path.splitext(norm)[1].lower() not in IMAGE_TYPES:
        return None
    root = os.path.realpath(evidence_dir)
    path = root
    parts = norm.split("/")
    try:
        for i, part in enumerate(parts):
            path = os.path.join(path, part)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode) or (i < len(parts) - 1 and not stat.S_ISDIR(mode)):
                return None
        if not stat.S_ISREG(mode):
            return None
    except OSError:
        return None
    if not os.path.realpath(path).startswith(root + os.sep):
        return None
    return norm


def _printable_name(name: str) -> bool:
    """A name that can be written into a UTF-8 page: no lone surrogates (JSON allows
    `\\ud800`; the file system would take it for an undecodable byte)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def reencode_png(evidence_dir: str, norm: str) -> bytes | None:
    """The plot at `norm` decoded and written again as a plain PNG (pixels only, no text
    chunks), or None when it is not a PNG within the bounds. Opened without following a
    link, so a swap after `safe_plot_path` cannot lead outside."""
    try:
        from PIL import Image
    except ImportError:
        return None
    path = os.path.join(os.path.realpath(evidence_dir), norm)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None
            data = fh.read(MAX_PLOT_BYTES + 1)
        if len(data) > MAX_PLOT_BYTES or not data.startswith(b"\x89PNG\r\n\x1a\n"):
            return None
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            if img.width * img.height > MAX_PLOT_PIXELS:
                return None
            img.load()
            pixels = img.convert("RGBA") if img.mode not in ("RGB", "RGBA", "L", "LA") else img.copy()
        out = io.BytesIO()
        pixels.save(out, format="PNG")
        return out.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def collect(model: SiteModel, evidence) -> tuple[list[EdgeEvidence], dict, dict]:
    """(edges with evidence in ID order, (mitigation, technique) -> EdgeEvidence, plots to
    write: path in the site's evidence folder -> re-encoded PNG bytes). `evidence` is the
    mapping the site was given (`atlaskb.evidence.Evidence`), or None."""
    edges, by_pair, plots = [], {}, {}
    metas = getattr(evidence, "meta", {}) if evidence is not None else {}
    for mitigation in model.ids_by_type.get("mitigation", []):
        for link in model.techniques_mitigated.get(mitigation, []):
            results = [r for r in link.evidence if isinstance(r, dict)]
            if not results:
                continue
            item = EdgeEvidence(link.mitigation, link.technique, [])
            figures: dict[str, Figure] = {}
            meta = metas.get((mitigation, link.technique.id))
            folder = meta.get("directory") if isinstance(meta, dict) else None
            n_seeds = _meta_seeds(meta)
            for result in results:
                item.rows.append(_row(result, folder, plots, figures, n_seeds, mitigation))
            item.figures = [figures[k] for k in sorted(figures)]
            for row in item.rows:  # an SVG beside its served PNG is the same figure: no note
                row.not_served = [n for n in row.not_served if os.path.splitext(n)[0] not in figures]
            item.setup = _setup(meta)
            item.quick = is_quick(meta)
            edges.append(item)
            by_pair[(link.mitigation.id, link.technique.id)] = item
    return edges, by_pair, plots


# Of several formats of one plot, the page shows the first of these; the rest are links.
PREFERRED = [".svg", ".png", ".webp", ".jpg", ".jpeg", ".gif"]


def _meta_seeds(meta) -> int | None:
    prov = meta.get("provenance") if isinstance(meta, dict) else None
    seeds = prov.get("seeds") if isinstance(prov, dict) else None
    return len(seeds) if isinstance(seeds, list) and seeds else None


def _row(result: dict, evidence_dir: str | None, plots: dict, figures: dict,
         n_seeds: int | None = None, mitigation: str = "") -> EvidenceRow:
    metric = str(result.get("metric") or "")
    digits = _DIGITS.get(metric, 3)
    n_seeds = _seed_count(result, n_seeds)
    single = n_seeds == 1
    change, verdict, note = _verdict(result, digits, n_seeds)
    higher = result.get("higher_is_better")
    ci = result.get("ci95") if isinstance(result.get("ci95"), dict) else {}
    row = EvidenceRow(
        attack=attack_label(str(result.get("attack") or "")), metric=METRIC_LABELS.get(metric, metric),
        baseline=_number(result.get("baseline"), digits), defended=_number(result.get("defended"), digits),
        change=change, verdict=verdict, ci95=_interval(result.get("ci95"), digits, single),
        params=_params(result.get("params")), params_full=_params_full(result.get("params")),
        direction=("higher is better" if higher else "lower is better") if isinstance(higher, bool) else "",
        # one seed: no interval under each figure (the setup line says so once)
        baseline_ci=_interval(ci.get("baseline"), digits) if "baseline" in ci and not single else "",
        defended_ci=_interval(ci.get("defended"), digits) if "defended" in ci and not single else "",
        verdict_note=note, also=_also(result.get("params"), 3, single),
        summary=str(result.get("summary") or ""),
    )
    diff = result.get("difference") if isinstance(result.get("difference"), dict) else None
    if diff is not None and _pair(diff.get("ci95")):
        lo, hi = _pair(diff["ci95"])
        row.difference_ci = f"[{lo:+.{digits}f}, {hi:+.{digits}f}]"
    raw = result.get("plots") or []
    for rel in sorted(raw if isinstance(raw, (list, tuple)) else [raw], key=str):
        norm = safe_plot_path(evidence_dir, rel) if evidence_dir else None
        if norm is not None and os.path.splitext(norm)[1].lower() not in SERVED_TYPES:
            row.not_served.append(norm)
            continue
        site_rel = f"{mitigation}/{norm}" if mitigation and norm else norm
        if norm is not None and site_rel not in plots:
            png = reencode_png(evidence_dir, norm)
            if png is not None:
                plots[site_rel] = png
        if norm is None or site_rel not in plots:
            row.missing.append(str(rel) if _printable_name(str(rel)) else ascii(rel))
            continue
        stem, ext = os.path.splitext(norm)
        caption = f"{row.attack or 'Result'}: {row.metric}".strip()
        fig = figures.get(stem)
        site_path = f"{SITE_FOLDER}/{site_rel}"
        if fig is None:
            figures[stem] = Figure(site_path, caption)
            continue
        if row.attack and row.attack not in fig.caption:
            fig.caption = f"{fig.caption}; {caption}"
        current_ext = os.path.splitext(fig.src)[1].lower()
        if site_path == fig.src or any(site_path == a for a, _ in fig.alternates):
            continue
        if PREFERRED.index(ext.lower()) < PREFERRED.index(current_ext):
            fig.alternates.append((fig.src, current_ext[1:].upper()))
            fig.src = site_path
        else:
            fig.alternates.append((site_path, ext[1:].upper()))
        fig.alternates.sort()
    return row


def write_plots(plots: dict, site_dir: str) -> None:
    """The re-encoded plots from `collect`, under the site's evidence folder."""
    for rel in sorted(plots):
        dest = os.path.join(site_dir, SITE_FOLDER, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as fh:
            fh.write(plots[rel])
