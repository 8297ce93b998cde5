"""atlaskb: MITRE ATLAS as a graph you can query, browse and test defenses against."""

__version__ = "0.1.0"


def load(*sources: str):
    """Load sources (vault folders, page files, ATLAS.yaml releases, STIX bundles), in
    order, into one KnowledgeBase; no sources means the bundled ATLAS vault. The one way
    to get a knowledge base: every CLI command loads through here. ``kb.graph`` is an
    `atlaskb.graph.AtlasGraph` (networkx's read API without importing networkx);
    ``kb.to_networkx()`` gives a networkx.MultiDiGraph.

    Problems in the input never raise: they are collected in ``kb.findings``. Only a
    source that does not exist raises ``atlaskb.errors.SourceError``.

    The parsed result is cached as JSON in the user's cache folder, keyed by the
    sources' paths, mtimes and sizes (see `atlaskb.cache`; ``ATLASKB_NO_CACHE=1`` turns
    it off), so a one-shot query does not re-parse an unchanged vault.
    """
    import gc

    from atlaskb import cache
    from atlaskb.sources import default_sources

    paths = [_expand(p) for p in sources] or default_sources()
    key = cache.cache_key(paths) if cache.enabled() else None
    kb = cache.get(key)
    if kb is not None:
        return kb
    from atlaskb.kb import build
    from atlaskb.sources import read_source

    # Loading allocates many small, long-lived objects and frees almost none; the cyclic
    # collector would rescan them all again and again, making per-page cost grow with
    # vault size. Pausing it keeps the cost flat.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        kb = build([read_source(p) for p in paths])
    finally:
        if was_enabled:
            gc.enable()
    cache.put(key, kb, paths)
    return kb


def _expand(source: str) -> str:
    """`atlas:5.4.0` is a release downloaded by `atlaskb release get` (`atlaskb.releases`)."""
    if not source[:6].lower() == "atlas:":
        return source
    from atlaskb.releases import expand

    return expand(source)
