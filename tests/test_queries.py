"""`atlaskb.queries` as the CLI, the site and scripts call it: kill-chain order, a
mitigation's techniques by tactic, the matrix and tactic counts, case-study listings and
paths. Facts are checked against MITRE's release read directly, not through atlaskb."""

from __future__ import annotations

import pytest

import atlaskb
from atlaskb import queries as q
from atlaskb.errors import NotFound
from atlaskb.resources import bundled_vault
from conftest import FIXTURES


@pytest.fixture
def release_56(raw_release_56):
    """The release's matrix (tactics, techniques, mitigations), read independently."""
    return raw_release_56["matrices"][0]


@pytest.fixture(scope="module")
def with_overlay(tmp_path_factory):
    """The bundled vault plus an organisation's mitigation that covers a technique of
    three tactics, a sub-technique, and a technique known only from this link (no
    tactic at all)."""
    page = tmp_path_factory.mktemp("overlay") / "acme.md"
    page.write_text(
        "---\ntitle: \"ACME.M0001: Prompt Firewall\"\ntype: mitigation\n---\n\n"
        "# ACME.M0001: Prompt Firewall\n\nOur own control.\n\n## Techniques (3)\n\n"
        "- [[x|AML.T9999: Unknown Trick]]\n- [[x|AML.T0043.002: Black-Box Transfer]]\n"
        "- [[x|AML.T0015: Evade AI Model]]\n", encoding="utf-8")
    return atlaskb.load(bundled_vault(), str(page))


def test_tactic_order_is_the_releases_kill_chain(bundled_kb, release_56):
    order = q.tactic_order(bundled_kb)
    assert sorted(order, key=order.get) == [t["id"] for t in release_56["tactics"]] == q.tactics(bundled_kb)
    assert sorted(order.values()) == list(range(len(order)))


def test_in_matrix_order_puts_what_is_no_tactic_last(bundled_kb):
    assert q.in_matrix_order(bundled_kb, ["AML.TA0011", "AML.TA0001", "AML.TA0002"]) == \
        ["AML.TA0002", "AML.TA0001", "AML.TA0011"]
    assert q.in_matrix_order(bundled_kb, ["AML.T0043", "AML.TA0011"]) == ["AML.TA0011", "AML.T0043"]
    assert q.in_matrix_order(bundled_kb, []) == []


def test_techniques_by_kill_chain_orders_by_first_tactic_then_id(with_overlay):
    found = q.techniques_by_kill_chain(with_overlay, "ACME.M0001")
    # T0015's first tactic (Initial Access) comes before AI Attack Staging; no tactic last.
    assert [t["id"] for t in found] == ["AML.T0015", "AML.T0043.002", "AML.T9999"]
    assert found[0]["tactics"] == ["AML.TA0004", "AML.TA0007", "AML.TA0011"]  # matrix order, not ID order
    assert found[2]["tactics"] == []
    with pytest.raises(NotFound, match="is a technique, not a mitigation"):
        q.techniques_by_kill_chain(with_overlay, "AML.T0015")


def test_group_by_tactic_lists_a_technique_under_each_of_its_tactics(with_overlay):
    groups = q.group_by_tactic(with_overlay, q.techniques_by_kill_chain(with_overlay, "ACME.M0001"))
    assert list(groups) == ["AML.TA0004", "AML.TA0007", "AML.TA0001", "AML.TA0011", ""]
    assert {k: [t["id"] for t in v] for k, v in groups.items()} == {
        "AML.TA0004": ["AML.T0015"], "AML.TA0007": ["AML.T0015"], "AML.TA0001": ["AML.T0043.002"],
        "AML.TA0011": ["AML.T0015"], "": ["AML.T9999"]}
    assert q.group_by_tactic(with_overlay, []) == {}


def test_techniques_by_kill_chain_covers_what_the_release_lists(bundled_kb, release_56):
    (m0003,) = [m for m in release_56["mitigations"] if m["id"] == "AML.M0003"]
    found = q.techniques_by_kill_chain(bundled_kb, "AML.M0003")
    assert sorted(t["id"] for t in found) == sorted(t["id"] for t in m0003["techniques"])
    order = q.tactic_order(bundled_kb)
    firsts = [order[t["tactics"][0]] for t in found]
    assert firsts == sorted(firsts)


def test_matrix_and_tactic_counts_agree_with_the_release(bundled_kb, release_56):
    tops = {t["id"]: t for t in release_56["techniques"] if "subtechnique-of" not in t}
    subs = [t for t in release_56["techniques"] if "subtechnique-of" in t]
    counts = q.tactic_counts(bundled_kb)
    assert [c["id"] for c in counts] == [t["id"] for t in release_56["tactics"]]
    for row in counts:
        mine = [t for t in tops.values() if row["id"] in t.get("tactics", [])]
        assert row["techniques"] == len(mine), row
        assert row["subtechniques"] == sum(1 for s in subs if s["subtechnique-of"] in {t["id"] for t in mine}), row
        assert row["name"] == next(t["name"] for t in release_56["tactics"] if t["id"] == row["id"])
    columns = q.matrix(bundled_kb)
    assert [len(c["techniques"]) for c in columns] == [c["techniques"] for c in counts]
    assert all(e["parent"] is None for c in columns for e in c["techniques"])
    with_subs = q.matrix(bundled_kb, include_subtechniques=True)
    assert [len(c["techniques"]) for c in with_subs] == [c["techniques"] + c["subtechniques"] for c in counts]
    staging = next(c for c in with_subs if c["id"] == "AML.TA0001")
    ids = [e["id"] for e in staging["techniques"]]
    assert ids.index("AML.T0043") + 1 == ids.index("AML.T0043.000")  # sub-techniques right after the parent
    assert next(e for e in staging["techniques"] if e["id"] == "AML.T0043.002")["parent"] == "AML.T0043"


def test_case_studies_lists_every_one_with_date_and_target(bundled_kb):
    rows = q.case_studies(bundled_kb)
    assert [r["id"] for r in rows] == bundled_kb.nodes_of_type("case-study")
    assert all(set(r) == {"id", "name", "incident_date", "target"} and r["name"] for r in rows)


def test_path_hops_name_each_link_and_its_direction(with_overlay):
    hops = q.path_hops(with_overlay, "ACME.M0001", "AML.TA0001")
    assert [h["id"] for h in hops] == ["ACME.M0001", "AML.T0043.002", "AML.T0043", "AML.TA0001"]
    assert [h["links"] for h in hops] == [[], [("mitigates", "forward")], [("subtechnique-of", "forward")],
                                          [("achieves", "forward")]]
    back = q.path_hops(with_overlay, "AML.TA0001", "AML.T0043")
    assert back[-1]["links"] == [("achieves", "backward")]
    assert q.path_hops(with_overlay, "AML.T0043", "AML.T0043") == [
        {"id": "AML.T0043", "name": "Craft Adversarial Data", "type": "technique", "links": []}]


def test_name_of_never_fails(with_overlay):
    assert q.name_of(with_overlay, "AML.T0043") == "Craft Adversarial Data"
    assert q.name_of(with_overlay, "AML.T0000.999") == ""
    assert q.named(with_overlay, "ACME.M0001") == {"id": "ACME.M0001", "name": "Prompt Firewall"}


# -- queries on broken or thin graphs ---------------------------------------------------------

def test_tactics_of_ends_on_a_subtechnique_cycle():
    """A cycle of sub-technique links (lint reports it) must not crash the queries."""
    kb = atlaskb.load(str(FIXTURES / "vault_defects"))
    assert q.tactics_of(kb, "ACME.T0001.001") == []


def test_empty_query_never_matches_a_nameless_object(nameless_vault):
    kb = atlaskb.load(nameless_vault)
    assert kb.graph.nodes["ACME.T0009"].get("name", "") == ""
    for blank in ("", "  "):
        with pytest.raises(NotFound):
            q.resolve(kb, blank)
