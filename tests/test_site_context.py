"""The site's model of a knowledge base (`site.context.SiteModel`): what the templates read
takes the library's rules, including on defective sources."""

from __future__ import annotations

from atlaskb import queries
from atlaskb.kb import build
from atlaskb.model import SUBTECHNIQUE_OF, TECHNIQUE, LinkRecord, ObjectRecord, Ref, SourceResult
from atlaskb.site.context import build_model


def test_a_sub_technique_stated_under_two_parents_has_queries_parent_on_the_site():
    objects = [ObjectRecord("AML.T0001", TECHNIQUE, "First"), ObjectRecord("AML.T0002", TECHNIQUE, "Second"),
               ObjectRecord("AML.T0002.000", TECHNIQUE, "Child")]
    # stated under the higher ID first: the site must not take whichever edge comes first
    links = [LinkRecord(Ref("AML.T0002.000"), Ref(parent), SUBTECHNIQUE_OF) for parent in ("AML.T0002", "AML.T0001")]
    kb = build([SourceResult("test", "atlas-yaml", objects, links)])
    model = build_model(kb)
    assert model.parent["AML.T0002.000"] == queries.parent(kb, "AML.T0002.000") == "AML.T0001"
    assert [r.id for r in model.subtechniques["AML.T0001"]] == ["AML.T0002.000"]
    assert [r.id for r in model.subtechniques["AML.T0002"]] == ["AML.T0002.000"]
