"""The vocabulary in atlaskb.model: what an ID looks like, what it names (type, parent,
sort order), and how a typed one is read."""

from __future__ import annotations

from atlaskb.model import id_candidates, id_sort_key, is_id, parent_of_id, type_of_id


def test_a_typed_id_is_tried_as_written_in_upper_case_and_with_the_aml_prefix():
    assert id_candidates(" t0043.002 ") == ("t0043.002", "T0043.002", "AML.T0043.002")
    assert id_candidates("AML.M0006") == ("AML.M0006", "AML.M0006", "AML.AML.M0006")


def test_is_id_takes_ascii_atlas_ids_only():
    assert is_id("AML.T0043.002") and is_id("AML.TA0001") and is_id("AML.CS0000")
    assert not is_id("aml.t0043") and not is_id("AML.T0043.02") and not is_id("AML.T０００１")


def test_id_helpers():
    assert type_of_id("AML.TA0001") == "tactic"
    assert type_of_id("ACME.M0001") == "mitigation"
    assert type_of_id("AML.CS0012") == "case-study"
    assert type_of_id("AML.T0043.002") == "technique"
    assert type_of_id("nonsense") is None
    assert parent_of_id("AML.T0043.002") == "AML.T0043"
    assert parent_of_id("AML.T0043") is None
    assert sorted(["AML.T0043.002", "ACME.T0001", "AML.T0043", "AML.T0005"], key=id_sort_key) == [
        "AML.T0005", "AML.T0043", "AML.T0043.002", "ACME.T0001"]
