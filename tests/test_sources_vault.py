"""`atlaskb.sources.vault.parse_page` on single pages: which pages give an object, what
the body's H1, description, sections and procedure steps become, and the findings for
what a page lacks (docs/vault-format.md describes the format)."""

from __future__ import annotations

from atlaskb.sources.vault import page_slug, parse_page


def codes(findings):
    return [(f.code, f.line) for f in findings]


def test_a_folders_index_page_is_skipped_silently_any_other_page_without_id_is_reported():
    assert parse_page("# Tactics\n\nThe list.\n", "tactics/tactics.md", "tactics/tactics.md") == (None, [], [])
    record, links, findings = parse_page("# Tactics\n\nThe list.\n", "tactics/notes.md", "tactics/notes.md")
    assert record is None and codes(findings) == [("no-id", 1)]
    # With frontmatter, even an index-named page is meant to be an object.
    record, _, findings = parse_page("---\ntype: tactic\n---\n# Tactics\n", "t/t.md", "t/t.md")
    assert record is None and codes(findings) == [("no-id", 1)]


def test_unclosed_or_unusable_frontmatter_leaves_the_body_to_speak():
    record, _, findings = parse_page("---\ntitle: x\n# AML.M0001: Guard\n", "m.md", "m.md")
    assert record.id == "AML.M0001" and record.name == "Guard" and ("bad-frontmatter", 1) in codes(findings)
    record, _, findings = parse_page("---\n- a list\n---\n# AML.M0001: Guard\n", "m.md", "m.md")
    assert record.id == "AML.M0001" and ("bad-frontmatter", 2) in codes(findings)


def test_counts_and_missing_metadata_are_reported_in_page_order():
    text = ("# AML.T0001: Probe\n\nProse.\n\n## Mitigations (2)\n\n- [[m|AML.M0001: Guard]]\n\n"
            "## Tactics (1)\n\n- [[t|AML.TA0002: Reconnaissance]]\n")
    record, links, findings = parse_page(text, "t.md", "t.md")
    assert record.type == "technique" and len(links) == 2
    assert codes(findings) == [("count-mismatch", 5), ("missing-metadata", 1), ("missing-metadata", 1),
                               ("missing-metadata", 1)]
    assert [f.message for f in findings[1:]] == ["AML.T0001 has no maturity", "AML.T0001 has no created date",
                                                "AML.T0001 has no modified date"]


def test_the_description_is_the_prose_under_the_h1_or_under_summary_when_that_is_empty():
    record, _, _ = parse_page("# AML.M0001: Guard\n\n## Summary\n\nUnder the heading.\n\n## Techniques (0)\n",
                              "m.md", "m.md")
    assert record.attrs["description"] == "Under the heading."
    record, _, _ = parse_page("# AML.M0001: Guard\n\nUnder the title.\n\n## Summary\n\nNot this.\n", "m.md", "m.md")
    assert record.attrs["description"] == "Under the title."
    # A fenced heading is prose, not a section: its list is no relationship.
    text = "# AML.M0001: Guard\n\n```\n## Techniques (1)\n- [[t|AML.T0001]]\n```\n"
    record, links, _ = parse_page(text, "m.md", "m.md")
    assert links == [] and "## Techniques (1)" in record.attrs["description"]


def test_procedure_steps_give_uses_links_with_their_tactic_in_either_order():
    text = ("# AML.CS0001: Incident\n\n## Procedure\n\n### Step 1\n\n- **Technique:** [[t|AML.T0043: Craft]]\n"
            "- **Tactic:** [[a|AML.TA0001: Staging]]\n\n### Step 2\n\n- **Tactic:** AML.TA0004\n"
            "- **Technique:** AML.T0015\n")
    record, links, _ = parse_page(text, "cs.md", "cs.md")
    assert record.type == "case-study"
    uses = [(link.target.id, link.attrs["step"], link.attrs["tactic_ref"].id) for link in links]
    assert uses == [("AML.T0043", 1, "AML.TA0001"), ("AML.T0015", 2, "AML.TA0004")]
    assert all(link.source.id == "AML.CS0001" for link in links)  # the page fills the open end


def test_page_slug_is_a_safe_file_name():
    assert page_slug("Evade AI Model") == "evade-ai-model"
    assert page_slug("../Search Open Websites/Domains: 2") == "search-open-websites-domains-2"
    assert page_slug("---") == ""
