"""`atlaskb.stix_vocabulary`: the words the STIX reader and writer share, and the one
rule for a tactic's kill-chain shortname (as against a vault page's file-name slug)."""

from __future__ import annotations

from atlaskb import stix_vocabulary as v
from atlaskb.model import CASE_STUDY, EDGE_TYPES, OBJECT_TYPES
from atlaskb.sources.vault import page_slug


def test_reader_and_writer_maps_are_each_others_inverse():
    assert set(v.STIX_TYPE) == set(OBJECT_TYPES)
    assert all(v.ATLAS_TYPE[stix] == atlas for atlas, stix in v.STIX_TYPE.items())
    assert v.ATLAS_TYPE["report"] == CASE_STUDY  # read, never written
    assert set(v.RELATIONSHIP_TYPE) < set(EDGE_TYPES) and "achieves" not in v.RELATIONSHIP_TYPE
    assert all(v.RELATIONSHIP_TYPE[v.LINK_TYPE[r]] == r for r in v.LINK_TYPE)


def test_shortname_is_mitres_rule_and_keeps_punctuation():
    assert v.shortname("AI Attack Staging") == "ai-attack-staging"
    assert v.shortname("  Command and\tControl ") == "command-and-control"
    assert v.shortname("Command & Control") == "command-&-control"
    # A page's file name drops what a path cannot safely hold; the shortname does not.
    assert page_slug("Command & Control") == "command-control"
    assert page_slug("LLM Prompt Injection: Direct") == "llm-prompt-injection-direct"
    assert v.shortname("") == page_slug("") == ""


def test_every_bundled_tactic_is_found_by_its_shortname(bundled_kb):
    from atlaskb import queries

    for t in queries.tactics(bundled_kb):
        assert queries.tactic_id(bundled_kb, v.shortname(bundled_kb.graph.nodes[t]["name"])) == t
