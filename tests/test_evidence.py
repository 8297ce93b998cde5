"""Evidence files are checked before anything is attached, and land on the right edge."""

import json

import pytest

from atlaskb import load
from atlaskb.errors import SourceError
import copy

from atlaskb.evidence import attack_label, is_quick, load_evidence, load_results, missing_links, validate


def _result(technique="AML.T0043.002", **over):
    r = {
        "technique": technique, "attack": "transfer-pgd", "metric": "robust_accuracy",
        "higher_is_better": True, "baseline": 0.41, "defended": 0.52,
        "ci95": {"baseline": [0.38, 0.44], "defended": [0.5, 0.54]}, "params": {"eps": 0.2},
        "plots": [f"plots/{technique}.svg"],
    }
    r.update(over)
    return r


def _doc(results):
    return {
        "mitigation": "AML.M0006", "backend": "numpy", "device": "cpu", "dataset": "digits",
        "provenance": {"seeds": [0, 1, 2]}, "clean_accuracy": {"baseline": 0.95, "defended": 0.97},
        "results": results,
    }


def _write(tmp_path, doc):
    (tmp_path / "results.json").write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(tmp_path)


def test_results_map_to_their_link_and_leave_the_graph_alone(tmp_path):
    kb = load()
    before = copy.deepcopy(dict(kb.graph.edges[("AML.M0006", "AML.T0043.002", "mitigates")]))
    ev = load_evidence(_write(tmp_path, _doc([_result()])))
    assert missing_links(kb, ev) == []
    (row,) = ev[("AML.M0006", "AML.T0043.002")]
    assert row["defended"] == 0.52
    assert ("AML.M0006", "AML.T0043.001") not in ev
    assert dict(kb.graph.edges[("AML.M0006", "AML.T0043.002", "mitigates")]) == before


def test_evidence_for_a_link_the_graph_lacks_is_reported_not_invented(tmp_path):
    kb = load()
    findings = missing_links(kb, load_evidence(_write(tmp_path, _doc([_result("AML.T0000")]))))
    assert [f.code for f in findings] == ["evidence-without-edge"]
    assert not kb.graph.has_edge("AML.M0006", "AML.T0000")


def test_the_same_link_from_two_folders_is_an_error(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    with pytest.raises(SourceError, match="also in"):
        load_evidence([_write(a, _doc([_result()])), _write(b, _doc([_result()]))])


def test_reader_rejects_a_bad_difference_or_threat_model(tmp_path):
    assert any("threat_model" in p for p in validate(_doc([_result(threat_model="strong")])))
    assert any("difference" in p for p in validate(_doc([_result(difference={"mean": 0.1})])))


def test_missing_results_file_names_the_folder(tmp_path):
    with pytest.raises(SourceError, match="results.json"):
        load_results(str(tmp_path))


def test_broken_json_names_file_and_line(tmp_path):
    with pytest.raises(SourceError, match=r"results\.json:3: not valid JSON"):
        load_results(_write(tmp_path, '{\n"mitigation": "AML.M0006",\n oops\n}'))


@pytest.mark.parametrize("change, message", [
    ({"metric": "vibes"}, "unknown metric"),
    ({"defended": float("nan")}, "not a finite number"),
    ({"plots": ["../../etc/passwd"]}, "relative paths inside"),
    ({"plots": ["/etc/passwd"]}, "relative paths inside"),
    ({"ci95": [0.1, 0.2]}, "ci95 must be"),
])
def test_malformed_results_are_refused(tmp_path, change, message):
    assert any(message in p for p in validate(_doc([_result(**change)])))
    with pytest.raises(SourceError, match=message):
        load_results(_write(tmp_path, _doc([_result(**change)])))


def test_missing_top_level_keys_are_listed():
    assert validate({"mitigation": "AML.M0006"})[0].startswith("missing key")
    assert validate([]) == ["top level is not an object"]


@pytest.mark.parametrize("doc, message", [
    (_doc([_result(technique=["AML.T0043.002"])]), "technique is not an ID string"),
    ({**_doc([_result()]), "mitigation": {"id": "AML.M0006"}}, "'mitigation' is not an ID string"),
])
def test_ids_of_the_wrong_type_are_refused_not_a_crash(tmp_path, doc, message):
    """A list or mapping where an ID belongs is refused before any graph lookup."""
    with pytest.raises(SourceError, match=message):
        load_evidence(_write(tmp_path, doc))


def test_is_quick_reads_the_provenance_of_a_results_document_or_a_meta_entry():
    assert is_quick({"provenance": {"quick": True, "seeds": [0]}})
    assert not is_quick({"provenance": {"quick": False}}) and not is_quick({"provenance": {}})
    assert not is_quick(None) and not is_quick({"provenance": "quick"})


def test_attack_names_read_as_words():
    assert attack_label("pgd_linf_adaptive") == "PGD L∞ adaptive"
    assert attack_label("simba_logprob_margin") == "SimBA log-prob margin"
    assert attack_label("boundary_label_only") == "Boundary label only"
    assert attack_label("apgd_linf_adaptive_median_filter") == "APGD L∞ adaptive median filter"
    assert attack_label("Already readable") == "Already readable" and attack_label("") == ""
