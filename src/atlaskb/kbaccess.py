"""Lookups every knowledge base offers, whatever graph it holds.

Two classes hold a loaded ATLAS: `atlaskb.kb.KnowledgeBase` (a networkx MultiDiGraph) and
`atlaskb.graphlite.LiteKnowledgeBase` (the networkx-free view one-shot queries use when
the parse cache is warm). Both inherit these methods, so the two cannot drift apart; this
module imports nothing heavy, so the lite path stays light.

The object listings follow mitreattack-python's `MitreAttackData` habits where they
help a script: IDs or whole objects, revoked/deprecated objects left out on request,
and created/modified-after filters.
"""

from __future__ import annotations

import datetime as _dt

from atlaskb.model import CASE_STUDY, MITIGATION, TACTIC, TECHNIQUE, id_sort_key


class GraphAccess:
    """Mixin over `self.graph` (anything with networkx's node API used here)."""

    graph: object

    def nodes_of_type(self, obj_type: str) -> list[str]:
        """IDs of one type, in ATLAS order."""
        return sorted((n for n, d in self.graph.nodes(data=True) if d.get("type") == obj_type), key=id_sort_key)

    def find_id(self, key: str) -> str | None:
        """The ID `key` names: the ID itself in any case, without its `AML.` prefix
        (`t0043.002`), or the STIX ID `atlaskb export stix` gives the object. None when
        nothing matches (names are `queries.resolve`'s business)."""
        if not isinstance(key, str):
            return None
        if key in self.graph:
            return key
        k = key.strip()
        for candidate in (k, k.upper(), f"AML.{k.upper()}"):
            if candidate in self.graph:
                return candidate
        if "--" in k:
            return self._stix_ids().get(k.lower())
        return None

    def get(self, object_id: str) -> dict | None:
        """A node's attributes (with its id), or None. Takes the ID in any case, without
        its `AML.` prefix, or as the STIX ID of our STIX export."""
        found = self.find_id(object_id)
        if found is None:
            return None
        return {"id": found, **self.graph.nodes[found]}

    def _stix_ids(self) -> dict[str, str]:
        cached = getattr(self, "_stix_id_index", None)
        if cached is None:
            from atlaskb.export.stix import STIX_TYPE, stix_id, text_origin

            cached = {stix_id(STIX_TYPE[d["type"]], n, text_origin(self, n)): n
                      for n, d in self.graph.nodes(data=True) if d.get("type") in STIX_TYPE}
            self._stix_id_index = cached
        return cached

    def select(self, obj_type: str | None = None, *, objects: bool = False, remove_deprecated: bool = False,
               created_after=None, modified_after=None) -> list:
        """Objects of `obj_type` (all types when None), in ATLAS order (tactics: kill-chain
        order): their IDs, or with `objects` their attribute dicts (with ``id``).

        `remove_deprecated` leaves out objects a source marks revoked or deprecated;
        `created_after` / `modified_after` (a date, datetime or ``YYYY-MM-DD`` text) keep
        only objects dated after it (objects with no such date are left out)."""
        if obj_type == TACTIC:
            from atlaskb import queries

            ids = queries.tactics(self)
        elif obj_type is None:
            ids = sorted(self.graph.nodes, key=id_sort_key)
        else:
            ids = self.nodes_of_type(obj_type)
        created, modified = _day(created_after, "created_after"), _day(modified_after, "modified_after")
        keep = []
        for n in ids:
            d = self.graph.nodes[n]
            if remove_deprecated and (d.get("deprecated") or d.get("revoked")):
                continue
            if created and not str(d.get("created") or "")[:10] > created:
                continue
            if modified and not str(d.get("modified") or "")[:10] > modified:
                continue
            keep.append(n)
        return [{"id": n, **self.graph.nodes[n]} for n in keep] if objects else keep

    def techniques(self, **options) -> list:
        """Techniques and sub-techniques (see `select` for the options)."""
        return self.select(TECHNIQUE, **options)

    def mitigations(self, **options) -> list:
        return self.select(MITIGATION, **options)

    def tactics(self, **options) -> list:
        """Tactics in kill-chain order."""
        return self.select(TACTIC, **options)

    def case_studies(self, **options) -> list:
        return self.select(CASE_STUDY, **options)

    def __contains__(self, object_id: str) -> bool:
        return object_id in self.graph

    def __len__(self) -> int:
        return self.graph.number_of_nodes()


def _day(value, name: str) -> str | None:
    """A date filter as ``YYYY-MM-DD`` text (ATLAS dates compare as text)."""
    if value is None:
        return None
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    text = str(value).strip()
    try:
        _dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD), not {value!r}") from None
    return text[:10]
