"""`site.urls`: links to MITRE's ATLAS pages only for ATLAS's own IDs."""

from __future__ import annotations

from atlaskb.site.urls import mitre_url


def test_objects_that_are_not_atlas_own_get_no_mitre_link():
    assert mitre_url("ACME.M0001", "mitigation") is None
    assert mitre_url("AML.M0001", "technique") is None  # an ID of the wrong kind
    assert mitre_url("AML.T0043/../x", "technique") is None
