"""The STIX words that atlaskb's bundle reader (`atlaskb.sources.stix`) and writer
(`atlaskb.export.stix`) must agree on, kept in one place because export → import only
round-trips while both sides spell them the same.

Three kinds of words:

* MITRE's: where an object's ATLAS ID sits (``external_references`` whose
  ``source_name`` is ``mitre-atlas``), the kill chain a technique's phases belong to, the
  STIX types MITRE's bundle uses for tactics, techniques, mitigations and case studies,
  and how a tactic's kill-chain phase name (its ``x_mitre_shortname``) is made from its
  name.
* Ours: ``x_atlaskb_<attr>`` custom properties for what STIX has no property for, the
  markers for values that stand in for something the source does not state, and the
  date written when an object has none.
* Whose words describe the objects (``text_origin``), which every reader records in its
  source's meta and the writer folds into STIX IDs.

Only `atlaskb.model`'s type names are imported: the module is cheap to import from the
query path.
"""

from __future__ import annotations

from atlaskb.model import CASE_STUDY, MITIGATES, MITIGATION, SUBTECHNIQUE_OF, TACTIC, TECHNIQUE, USES

# `external_references` source names: an object's own ATLAS ID, its own ATT&CK ID, and
# where our exporter puts the ATT&CK technique an ATLAS object adapts (not under
# ATTACK_SOURCE, which tools read as the object's own ATT&CK ID). The reader reads both.
ATLAS_SOURCE = "mitre-atlas"
ATTACK_SOURCE = "mitre-attack"
ATTACK_XREF_SOURCE = "attack-cross-reference"
# The `kill_chain_name` of a technique's phases that name ATLAS tactics.
KILL_CHAIN = "mitre-atlas"
# Our custom properties are `x_atlaskb_<attr>`; the reader puts them back as attributes.
CUSTOM_PREFIX = "x_atlaskb_"
# STIX requires `created`/`modified`; the writer gives this to objects that have no
# date, and the reader reads it as "no date".
NO_DATE = "1970-01-01T00:00:00.000Z"
# Markers the writer sets (as x_atlaskb_<name>: true) on values that stand in for what
# the source does not state: a sub-technique's phases taken from its parent, and a case
# study's created/modified taken from its incident date. The reader reads them as "not
# stated", so reading an export back adds nothing the source did not say.
INHERITED_PHASES = "inherited_phases"
UNDATED = "undated"

# Whose words describe the objects: the `text_origin` key of a source's meta. MITRE's
# release and MITRE's bundle are MITRE_TEXT; a vault is VAULT_TEXT; our own bundles say
# which in their collection's x_atlaskb_text_origin. STIX IDs depend on it (see
# `atlaskb.export.stix.stix_id`).
TEXT_ORIGIN = "text_origin"
MITRE_TEXT = "mitre-atlas"
VAULT_TEXT = "vault"

# ATLAS object type -> the STIX type the writer gives it (MITRE's choice for each).
STIX_TYPE = {TACTIC: "x-mitre-tactic", TECHNIQUE: "attack-pattern", MITIGATION: "course-of-action",
             CASE_STUDY: "campaign"}
# STIX type -> the ATLAS object type the reader makes of it: the writer's types, and
# `report`, which some bundles use for case studies.
ATLAS_TYPE = {**{stix: atlas for atlas, stix in STIX_TYPE.items()}, "report": CASE_STUDY}
# Link type -> the STIX `relationship_type` that states it, in the order the writer
# lists relationships. `achieves` has none: it travels as a technique's kill-chain phases.
RELATIONSHIP_TYPE = {MITIGATES: "mitigates", SUBTECHNIQUE_OF: "subtechnique-of", USES: "uses"}
# STIX `relationship_type` -> link type, for the reader. Anything else between ATLAS
# objects is reported, not kept.
LINK_TYPE = {stix: link for link, stix in RELATIONSHIP_TYPE.items()}


def shortname(tactic_name: str) -> str:
    """A tactic's kill-chain phase name made from its name, as MITRE makes its
    ``x_mitre_shortname`` and the ATT&CK Navigator names tactics: lowercase, each run of
    whitespace one hyphen (``AI Attack Staging`` → ``ai-attack-staging``). Punctuation
    is kept, as MITRE keeps it; this is not a file-name slug
    (`atlaskb.sources.vault.page_slug` is)."""
    return "-".join(tactic_name.lower().split())
