"""Evidence status of mitigates links: the one rule, the reader of evidence folders, and
what coverage, recommend, show, mitigations and the Navigator export make of them.

Fixtures are small hand-made results.json files in the shape `defend run` writes: each
row with a paired `difference`, a `verdict` and a `threat_model`.
"""

from __future__ import annotations

import json

import pytest

from atlaskb import load
from atlaskb import linkstatus as ls
from atlaskb.coverage import claimed_as_list, compute, recommend
from atlaskb.errors import SourceError, UsageError

M6_LINKS = ["AML.T0010.001", "AML.T0010.003", "AML.T0015", "AML.T0014", "AML.T0043", "AML.T0043.000",
            "AML.T0043.001", "AML.T0043.002", "AML.T0043.003", "AML.T0043.004", "AML.T0031"]


def row(technique="AML.T0043.002", verdict="better", *, attack="pgd", metric="robust_accuracy", hib=True,
        diff=0.1, headline=None, **over):
    baseline = 0.4
    r = {
        "technique": technique, "attack": attack, "metric": metric, "higher_is_better": hib,
        "baseline": baseline, "defended": baseline + diff,
        "ci95": {"baseline": [0.35, 0.45], "defended": [baseline + diff - 0.05, baseline + diff + 0.05]},
        "difference": {"mean": diff, "ci95": [diff - 0.05, diff + 0.05]}, "verdict": verdict,
        "threat_model": {"knowledge": "white-box", "norm": "linf", "eps": 0.2, "queries": None, "adaptive": True},
        "params": {"eps": 0.2}, "plots": [],
    }
    if headline is not None:
        r["headline"] = headline
    r.update(over)
    return r


def doc(rows, mitigation="AML.M0006", **over):
    d = {"mitigation": mitigation, "backend": "numpy", "device": "cpu", "dataset": "digits",
         "provenance": {"seeds": list(range(10))}, "clean_accuracy": {"baseline": 0.95, "defended": 0.97},
         "results": rows}
    d.update(over)
    return d


def write(folder, document):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(document if isinstance(document, str) else json.dumps(document))
    return str(folder)


@pytest.fixture(scope="module")
def kb():
    return load()


# -- the rule -------------------------------------------------------------------------------

@pytest.mark.parametrize("rows, expected", [
    ([], ls.UNMEASURED),
    ([row(verdict="better")], ls.SUPPORTED),
    ([row(verdict="no clear difference")], ls.NOT_SUPPORTED),
    ([row(verdict="worse")], ls.CONTRADICTED),
    # a side measure with no clear difference does not weaken a clear headline
    ([row(verdict="better"), row(verdict="no clear difference", metric="accuracy")], ls.SUPPORTED),
    ([row(verdict="worse"), row(verdict="no clear difference")], ls.CONTRADICTED),
    # rows pointing the other way than the headline: only in part
    ([row(verdict="better"), row(verdict="worse")], ls.IN_PART),
    ([row(verdict="worse"), row(verdict="better")], ls.IN_PART),
    ([row(verdict="no clear difference"), row(verdict="better")], ls.IN_PART),
    ([row(verdict="no clear difference"), row(verdict="worse")], ls.IN_PART),
    # a flagged headline is the headline, wherever it stands
    ([row(verdict="no clear difference", headline=False), row(verdict="better", headline=True)], ls.SUPPORTED),
    ([row(verdict="better", headline=False, attack="side"), row(verdict="better", headline=True)], ls.SUPPORTED),
    ([row(verdict="worse", headline=False), row(verdict="worse", headline=True)], ls.CONTRADICTED),
    # two headlines (two evidence folders) that disagree
    ([row(verdict="better", headline=True), row(verdict="no clear difference", headline=True)], ls.IN_PART),
])
def test_status_rule(rows, expected):
    assert ls.link_status(rows).status == expected


def test_headline_flag_picks_the_row_that_decides():
    rows = [row(verdict="better", attack="nonadaptive"),
            row(verdict="no clear difference", attack="adaptive", headline=True)]
    st = ls.link_status(rows)
    assert st.status == ls.IN_PART and st.headline["attack"] == "adaptive"
    rows[0]["headline"] = False
    rows[0]["verdict"] = "no clear difference"
    assert ls.link_status(rows).status == ls.NOT_SUPPORTED


def test_not_measured_here_keeps_the_reason_and_rows_win_over_it():
    st = ls.link_status([], "needs a language model")
    assert (st.status, st.reason) == (ls.NOT_MEASURED_HERE, "needs a language model")
    assert ls.link_status([row()], "needs a language model").status == ls.SUPPORTED


def test_effect_is_turned_so_that_positive_means_it_helps():
    assert ls.link_status([row(diff=0.2)]).effect == pytest.approx(0.2)
    asr = row(metric="attack_success_rate", hib=False, diff=-0.3)
    assert ls.link_status([asr]).effect == pytest.approx(0.3)
    assert ls.link_status([row(metric="queries", diff=40.0)]).effect is None  # not on a rate scale


def test_a_row_without_verdict_is_refused_by_the_rule():
    bad = row()
    del bad["verdict"]
    with pytest.raises(ValueError):
        ls.link_status([bad])


def test_best_status_prefers_measured_help_then_untested_claims():
    assert ls.best([ls.CONTRADICTED, ls.SUPPORTED]) == ls.SUPPORTED
    assert ls.best([ls.NOT_SUPPORTED, ls.UNMEASURED]) == ls.UNMEASURED
    assert ls.best([ls.CONTRADICTED, ls.NOT_SUPPORTED]) == ls.NOT_SUPPORTED
    assert ls.best([ls.IN_PART, ls.UNMEASURED]) == ls.IN_PART
    assert set(ls.BEST_FIRST) == set(ls.STATUSES)


# -- reading folders --------------------------------------------------------------------------

def test_read_gives_every_link_a_status(kb, tmp_path):
    ev = ls.read(kb, [write(tmp_path / "a", doc([
        row("AML.T0043.002", "better"), row("AML.T0014", "worse"),
        row("AML.T0015", "no clear difference")], not_measured=[{"technique": "AML.T0031", "reason": "r1"}]))])
    statuses = ev.statuses(kb)
    assert statuses[("AML.M0006", "AML.T0043.002")].status == ls.SUPPORTED
    assert statuses[("AML.M0006", "AML.T0014")].status == ls.CONTRADICTED
    assert statuses[("AML.M0006", "AML.T0015")].status == ls.NOT_SUPPORTED
    assert statuses[("AML.M0006", "AML.T0031")].status == ls.NOT_MEASURED_HERE
    assert statuses[("AML.M0006", "AML.T0031")].reason == "r1"
    assert statuses[("AML.M0006", "AML.T0043.000")].status == ls.UNMEASURED
    assert statuses[("AML.M0015", "AML.T0015")].status == ls.UNMEASURED
    assert all(s.status in ls.STATUSES for s in statuses.values())


def test_folders_are_read_once_and_a_link_from_two_folders_is_refused(kb, tmp_path):
    a = write(tmp_path / "a", doc([row("AML.T0043.002", "better", attack="first"),
                                   row("AML.T0043.002", "no clear difference", attack="second")]))
    b = write(tmp_path / "b", doc([row("AML.T0043.002", "no clear difference", attack="other")]))
    assert ls.read(kb, [a]).status("AML.M0006", "AML.T0043.002").status == ls.SUPPORTED
    assert len(ls.read(kb, [a, a, str(tmp_path / "a" / ".")]).rows[("AML.M0006", "AML.T0043.002")]) == 2
    with pytest.raises(SourceError, match="give each link's evidence once"):
        ls.read(kb, [a, b])


def test_rows_for_links_the_graph_lacks_are_findings(kb, tmp_path):
    ev = ls.read(kb, [write(tmp_path, doc([row("AML.T0000"), row("AML.T0000", attack="again")]))])
    assert [f.code for f in ev.findings] == ["evidence-without-edge"]
    assert ("AML.M0006", "AML.T0000") not in ev.rows


@pytest.mark.parametrize("content, message", [
    ("{\n  \"mitigation\": \n", r"results\.json:\d+: not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    ("[1, 2]", "not a results file"),
    (doc([{k: v for k, v in row().items() if k != "verdict"}]), r"AML.T0043.002, result 1 .*no verdict.*defend run"),
    (doc([row(verdict="great")]), r"result 1 .*verdict must be one of"),
    (doc([row()], not_measured=[{"technique": "AML.T0031"}]), "'not_measured' must be a list"),
    (doc([row()], not_measured="AML.T0031"), "'not_measured' must be a list"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    (doc([row(headline="yes")]), "headline must be true or false"),
    (doc([row(metric="vibes")]), "unknown metric"),
])
def test_hostile_results_files_name_the_file(kb, tmp_path, content, message):
    folder = tmp_path / "ev"
    folder.mkdir()
    path = folder / "results.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(SourceError, match=message) as err:
        ls.read(kb, [str(folder)])
    assert "results.json" in str(err.value)


def test_missing_folder_and_folder_without_results(kb, tmp_path):
    with pytest.raises(SourceError, match="no such evidence folder"):
        ls.read(kb, [str(tmp_path / "nope")])
    with pytest.raises(SourceError, match="no results here"):
        ls.read(kb, [str(tmp_path)])


# -- coverage ---------------------------------------------------------------------------------

@pytest.fixture
def m6_evidence(kb, tmp_path):
    return ls.read(kb, [write(tmp_path / "m6", doc([
        row("AML.T0043.002", "better"), row("AML.T0043.000", "better"),
        row("AML.T0014", "worse"), row("AML.T0015", "no clear difference"),
        row("AML.T0043.001", "better"), row("AML.T0043.001", "worse", attack="boundary"),
    ], not_measured=[{"technique": "AML.T0031", "reason": "no such model here"}]))])


def test_coverage_gives_each_claimed_technique_its_status(kb, m6_evidence):
    result = compute(kb, ["AML.M0006"], evidence=m6_evidence)
    assert set(result["claimed"]) == set(M6_LINKS) == set(result["covered"])
    assert result["claimed"]["AML.T0043.002"]["status"] == ls.SUPPORTED
    assert result["claimed"]["AML.T0043.001"]["status"] == ls.IN_PART
    assert result["claimed"]["AML.T0031"]["mitigations"] == [
        {"id": "AML.M0006", "status": ls.NOT_MEASURED_HERE, "reason": "no such model here"}]
    totals = result["totals"]
    assert sum(totals[s] for s in ls.STATUSES) == totals["claimed"] == len(M6_LINKS)
    assert (totals[ls.SUPPORTED], totals[ls.IN_PART], totals[ls.CONTRADICTED], totals[ls.NOT_SUPPORTED],
            totals[ls.NOT_MEASURED_HERE], totals[ls.UNMEASURED]) == (2, 1, 1, 1, 1, 5)


def test_require_supported_counts_only_supported_links(kb, m6_evidence):
    result = compute(kb, ["AML.M0006", "AML.M0015"], evidence=m6_evidence, require="supported")
    assert result["covered"] == ["AML.T0043.000", "AML.T0043.002"]
    assert result["totals"]["covered"] == 2
    assert "AML.T0015" in result["uncovered"] and "AML.T0015" in {g["id"] for g in result["gaps"]}
    # a technique claimed by two mitigations takes the best of its links' statuses
    assert result["claimed"]["AML.T0015"]["status"] == ls.UNMEASURED
    assert result["claimed"]["AML.T0015"]["counted"] is False
    claimed = compute(kb, ["AML.M0006", "AML.M0015"], evidence=m6_evidence)
    assert set(claimed["claimed"]) == set(result["claimed"])
    assert {t for t, c in result["claimed"].items() if c["status"] == ls.SUPPORTED} == set(result["covered"])


def test_claimed_as_list_names_each_claimed_technique_and_keeps_the_counted_ones(kb, m6_evidence):
    result = compute(kb, ["AML.M0006", "AML.M0015"], evidence=m6_evidence, require="supported")
    listed = claimed_as_list(kb, result)
    assert [c["id"] for c in listed["claimed"]] == list(result["claimed"])
    t15 = next(c for c in listed["claimed"] if c["id"] == "AML.T0015")
    assert t15["name"] == kb.graph.nodes["AML.T0015"]["name"] and t15["counted"] is False
    assert {m["id"]: m["name"] for m in t15["mitigations"]} == {
        m: kb.graph.nodes[m]["name"] for m in ("AML.M0006", "AML.M0015")}
    assert [c["id"] for c in listed["covered"]] == result["covered"] == ["AML.T0043.000", "AML.T0043.002"]
    assert listed["totals"] == result["totals"] and isinstance(result["claimed"], dict)  # input untouched


def test_require_supported_needs_evidence(kb):
    with pytest.raises(UsageError, match="--evidence"):
        compute(kb, ["AML.M0006"], require="supported")


def test_coverage_without_evidence_is_unchanged(kb):
    result = compute(kb, ["AML.M0006"])
    assert "claimed" not in result and set(result["totals"]) == {"techniques", "covered", "ratio"}


# -- recommend --------------------------------------------------------------------------------

def test_recommend_says_when_a_pick_rests_on_claims_alone(kb, m6_evidence):
    picks = recommend(kb, [], top=40, evidence=m6_evidence)
    by_id = {p["id"]: p for p in picks}
    assert by_id["AML.M0006"]["claims_alone"] is False
    assert by_id["AML.M0006"]["statuses"]["AML.T0043.002"] == ls.SUPPORTED
    others = [p for p in picks if p["id"] != "AML.M0006"]
    assert others and all(p["claims_alone"] for p in others)
    assert {p["basis"] for p in picks} == {"claims"}
    assert [p["id"] for p in picks] == [p["id"] for p in recommend(kb, [], top=40)]  # same ranking


def test_rank_by_effect_puts_measured_effect_first(kb, m6_evidence):
    claims = recommend(kb, [], top=3)
    effect = recommend(kb, [], top=3, evidence=m6_evidence, rank="effect")
    assert claims[0]["id"] != "AML.M0006"
    assert effect[0]["id"] == "AML.M0006" and effect[0]["basis"] == "measured effect"
    assert all(p["basis"] == "claims" for p in effect[1:])  # nothing else is measured


def test_rank_by_effect_weighs_the_measured_difference(kb, tmp_path):
    """Two supported links: the gain is the techniques' weights times their differences."""
    from atlaskb.coverage import technique_weight

    ev = ls.read(kb, [write(tmp_path, doc([row("AML.T0043.002", diff=0.25), row("AML.T0014", diff=0.5)]))])
    (pick,) = recommend(kb, [], top=1, evidence=ev, rank="effect")
    expected = 0.25 * technique_weight(kb, "AML.T0043.002") + 0.5 * technique_weight(kb, "AML.T0014")
    assert pick["gain"] == pytest.approx(expected, abs=1e-4)


def test_rank_effect_needs_evidence(kb):
    with pytest.raises(UsageError, match="--evidence"):
        recommend(kb, [], rank="effect")


# -- CLI ----------------------------------------------------------------------------------------

@pytest.fixture
def m6_dir(tmp_path):
    return write(tmp_path / "m6", doc([
        row("AML.T0043.002", "better"), row("AML.T0043.000", "better"),
        row("AML.T0014", "worse"), row("AML.T0015", "no clear difference"),
        row("AML.T0043.001", "better"), row("AML.T0043.001", "worse", attack="boundary"),
    ], not_measured=[{"technique": "AML.T0031", "reason": "no such model here"}]))


def test_a_quick_evidence_folder_is_marked_indicative_in_statuses_and_show(kb, m6_dir, tmp_path):
    from conftest import run_cli

    quick = write(tmp_path / "m15", doc([row("AML.T0015", "better")], mitigation="AML.M0015",
                                        provenance={"seeds": [0, 1, 2], "quick": True}))
    assert ls.read(kb, [m6_dir]).quick is False and ls.read(kb, [m6_dir, quick]).quick is True
    _, out, _ = run_cli("show", "AML.T0015", "--evidence", m6_dir)
    assert "Measured evidence" in out and "quick run" not in out
    code, out, err = run_cli("show", "AML.T0015", "--evidence", m6_dir, "--evidence", quick)
    assert code == 0, err
    assert "Measured evidence (quick run: indicative)" in out


def test_cli_coverage_json_contract(m6_dir):
    from conftest import run_cli

    code, out, err = run_cli("coverage", "--have", "AML.M0006", "--evidence", m6_dir, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert {c["id"] for c in data["covered"]} == set(M6_LINKS)
    assert all(c["status"] in ls.STATUSES and c["mitigations"][0]["id"] == "AML.M0006" for c in data["covered"])
    assert sum(data["totals"][s] for s in ls.STATUSES) == len(data["covered"])
    code, out, err = run_cli("coverage", "--have", "AML.M0006", "--evidence", m6_dir, "--require", "supported",
                             "--format", "json")
    assert code == 0, err
    required = json.loads(out)
    supported = {c["id"] for c in data["covered"] if c["status"] == "supported"}
    assert {c["id"] for c in required["covered"]} == supported == {"AML.T0043.000", "AML.T0043.002"}
    assert required["totals"]["covered"] == 2 and required["totals"]["claimed"] == len(M6_LINKS)
    assert len(required["covered"]) + len(required["uncovered"]) == required["totals"]["techniques"]


def test_cli_coverage_table_and_csv_show_statuses(m6_dir):
    from conftest import run_cli

    code, out, err = run_cli("coverage", "--have", "AML.M0006", "--evidence", m6_dir, "--require", "supported")
    assert code == 0, err
    assert "not measured here (no such model here)" in out and "contradicted" in out
    assert "2 of 170 techniques covered by supported links (1%); 11 claimed" in out
    code, out, err = run_cli("coverage", "--have", "AML.M0006", "--evidence", m6_dir, "--format", "csv")
    assert code == 0, err
    lines = out.splitlines()
    assert any(line.startswith("Claimed techniques and what the evidence says,AML.T0043.002,")
               and ",supported," in line for line in lines)
    header = lines[0].split(",")
    totals = {line.split(",")[header.index("Status")]: line.split(",")[header.index("Techniques")]
              for line in lines if line.startswith("Evidence status of the 11 claimed techniques,")}
    assert totals == {"supported": "2", "measured only in part": "1", "not supported": "1", "contradicted": "1",
                      "not measured here": "1", "unmeasured": "5"}


def test_cli_require_supported_without_evidence_is_a_usage_error():
    from conftest import run_cli

    code, out, err = run_cli("coverage", "--have", "AML.M0006", "--require", "supported")
    assert code == 2 and out == "" and "--evidence" in err


def test_cli_hostile_evidence_folder_is_a_clear_error(tmp_path):
    from conftest import run_cli_process

    bad = write(tmp_path / "bad", '{"mitigation": "AML.M0006", "results": [}')
    for command in (["coverage", "--have", "AML.M0006"], ["recommend", "--have", ""],
                    ["mitigations", "AML.T0015"], ["show", "AML.T0015"]):
        code, out, err = run_cli_process(*command, "--evidence", bad)
        assert code == 2 and out == "" and "Traceback" not in err, (command, err)
        assert f"{bad}/results.json:1: not valid JSON" in err
    code, out, err = run_cli_process("coverage", "--have", "AML.M0006", "--evidence", str(tmp_path / "nope"))
    assert code == 2 and "no such evidence folder" in err and "Traceback" not in err


def test_cli_recommend_with_evidence(m6_dir):
    from conftest import run_cli

    code, out, err = run_cli("recommend", "--have", "", "--evidence", m6_dir, "--rank", "effect", "--top", "3",
                             "--format", "json")
    assert code == 0, err
    picks = json.loads(out)
    assert picks[0]["id"] == "AML.M0006" and picks[0]["basis"] == "measured effect"
    assert picks[0]["claims_alone"] is False and all(p["claims_alone"] for p in picks[1:])
    code, out, err = run_cli("recommend", "--have", "", "--evidence", m6_dir, "--top", "3")
    assert code == 0, err
    assert "rest on ATLAS's claims alone" in out and "claims alone" in out
    code, _, err = run_cli("recommend", "--have", "", "--rank", "effect")
    assert code == 2 and "--evidence" in err


# -- Navigator --------------------------------------------------------------------------------

def test_navigator_evidence_layer_carries_the_status(kb, m6_dir, tmp_path):
    from conftest import run_cli

    out = tmp_path / "layer.json"
    code, _, err = run_cli("export", "navigator", "--score", "evidence", "--evidence", m6_dir, "--out", str(out))
    assert code == 0, err
    layer = json.loads(out.read_text())
    assert layer["versions"]["layer"] == "4.3" and layer["domain"] == "atlas-atlas"  # as MITRE's ATLAS layers
    assert [i["label"] for i in layer["legendItems"]] == list(ls.STATUSES)
    by_id = {}
    for e in layer["techniques"]:
        assert set(e) <= {"techniqueID", "tactic", "showSubtechniques", "score", "comment", "color"}
        assert isinstance(e["score"], int) and isinstance(e["comment"], str)
        by_id.setdefault(e["techniqueID"], e)
    assert {e["techniqueID"] for e in layer["techniques"]} == set(kb.nodes_of_type("technique"))
    e = by_id["AML.T0043.002"]  # M0006 supported beats the unmeasured links of the others
    assert e["comment"].startswith("supported: ") and "AML.M0006 supported" in e["comment"]
    assert e["color"] == ls.STATUS_COLOURS["supported"] and e["score"] == 6
    assert by_id["AML.T0014"]["comment"].startswith("unmeasured: ")  # others claim it, untested
    assert "AML.M0006 contradicted" in by_id["AML.T0014"]["comment"]
    code, out_text, err = run_cli("export", "navigator", "--score", "evidence", "--have", "AML.M0006",
                                  "--evidence", m6_dir)
    assert code == 0, err
    deployed = {e["techniqueID"]: e for e in json.loads(out_text)["techniques"]}
    assert deployed["AML.T0014"]["comment"] == "contradicted: AML.M0006 contradicted"
    assert deployed["AML.T0031"]["comment"] == "not measured here: AML.M0006 not measured here (no such model here)"
    assert deployed["AML.T0065"]["score"] == 0 and "color" not in deployed["AML.T0065"]


def test_navigator_evidence_needs_evidence(m6_dir):
    from conftest import run_cli

    code, _, err = run_cli("export", "navigator", "--score", "evidence")
    assert code == 2 and "--evidence" in err
    code, _, err = run_cli("export", "navigator", "--evidence", m6_dir)
    assert code == 2 and "--score evidence" in err


# -- site ---------------------------------------------------------------------------------------

def test_site_shows_statuses_per_link_per_mitigation_and_claimed_vs_supported(m6_dir, tmp_path):
    from atlaskb.site.build import build_site

    kb = load()
    out = tmp_path / "site"
    build_site(kb, str(out), have=["AML.M0006", "AML.M0015"], evidence_dir=m6_dir)
    page = (out / "mitigations" / "AML.M0006.html").read_text(encoding="utf-8")
    assert "What the measurements say" in page
    assert '<span class="badge heat-ev-supported">supported</span> <span class="count">2 of 11</span>' in page
    assert '<span class="badge heat-ev-unmeasured">unmeasured</span> <span class="count">5 of 11</span>' in page
    technique = (out / "techniques" / "AML.T0031.html").read_text(encoding="utf-8")
    assert 'class="badge heat-ev-not-measured-here" title="no such model here">not measured here</span>' in technique
    coverage = (out / "coverage.html").read_text(encoding="utf-8")
    assert "What the measurements say about it" in coverage
    assert "cover <strong>12</strong> of 170 techniques (7%)" in coverage  # M0006 ∪ M0015: 11 + AML.T0029
    assert "<th scope=\"col\" class=\"num\">Supported</th>" in coverage
    assert "support <strong>2</strong> (1%)" in coverage
    assert coverage.count("rests on ATLAS's claims alone</span>") == 5  # M0006 is deployed: no pick is measured
    assert ".heat-ev-contradicted{background:#D55E00" in (out / "static" / "palette.css").read_text()
    # other mitigations' pages carry their (unmeasured) links too, and nothing is attached to the caller's graph
    assert "heat-ev-unmeasured" in (out / "mitigations" / "AML.M0015.html").read_text(encoding="utf-8")


def test_site_model_exposes_every_links_status(m6_dir, tmp_path, monkeypatch):
    """The matrix colours by `SiteModel.link_status`: every mitigates link has one."""
    from atlaskb.site import build as site_build
    from atlaskb.site.context import build_model

    kb = load()
    seen = {}

    def spy(*args, **kwargs):
        seen["model"] = build_model(*args, **kwargs)
        return seen["model"]

    monkeypatch.setattr(site_build, "build_model", spy)
    site_build.build_site(kb, str(tmp_path / "s"), evidence_dir=m6_dir)
    statuses = seen["model"].link_status
    assert statuses[("AML.M0006", "AML.T0043.002")].status == ls.SUPPORTED
    assert statuses[("AML.M0015", "AML.T0015")].status == ls.UNMEASURED
    assert len(statuses) == sum(len(v) for v in build_model(kb).techniques_mitigated.values())


def test_site_with_rows_that_predate_verdicts_shows_them_without_statuses(tmp_path):
    from atlaskb.site.build import build_site

    old = row()
    del old["verdict"], old["difference"]
    result = build_site(load(), str(tmp_path / "s"), have=["AML.M0006"], evidence_dir=write(tmp_path / "ev", doc([old])))
    assert any("1 link with results that carry no paired verdict" in w for w in result.warnings)
    page = (tmp_path / "s" / "mitigations" / "AML.M0006.html").read_text(encoding="utf-8")
    assert "measured (1)" in page and "heat-ev-unmeasured" in page  # the other links keep their status
    assert "What the measurements say about it" not in (tmp_path / "s" / "coverage.html").read_text(encoding="utf-8")


def test_cli_mitigations_and_show_put_the_status_beside_each_link(m6_dir):
    from conftest import run_cli

    code, out, err = run_cli("mitigations", "AML.T0043.001", "AML.T0031", "--evidence", m6_dir, "--format", "json")
    assert code == 0, err
    rows = {(r["technique"], r["id"]): r for r in json.loads(out)}
    assert rows[("AML.T0043.001", "AML.M0006")]["status"] == ls.IN_PART
    assert rows[("AML.T0031", "AML.M0006")]["status"] == ls.NOT_MEASURED_HERE
    assert rows[("AML.T0031", "AML.M0006")]["reason"] == "no such model here"
    assert rows[("AML.T0043.001", "AML.M0015")]["status"] == ls.UNMEASURED
    code, out, err = run_cli("mitigations", "AML.T0031", "--evidence", m6_dir, "--format", "csv")
    assert code == 0 and out.splitlines()[0] == "ID,Name,Evidence,Note"
    assert "AML.M0006,Use Ensemble Methods,not measured here (no such model here)," in out
    code, out, err = run_cli("show", "AML.M0006", "--evidence", m6_dir, "--format", "json")
    assert code == 0, err
    statuses = {t["id"]: t["status"] for t in json.loads(out)["techniques"]}
    assert statuses["AML.T0014"] == ls.CONTRADICTED and statuses["AML.T0043.002"] == ls.SUPPORTED
    code, out, err = run_cli("mitigations", "AML.T0031", "--format", "json")  # no --evidence: no status
    assert code == 0 and all("status" not in r for r in json.loads(out))


@pytest.mark.parametrize("metric", ["auc", "true_positive_rate", "fidelity", "identification_accuracy"])
def test_effect_on_every_rate_metric_the_writer_knows(metric):
    """Lower is better for these attacks' measures: a fall of 0.2 is an effect of +0.2."""
    assert ls.link_status([row(metric=metric, hib=False, diff=-0.2)]).effect == pytest.approx(0.2)
