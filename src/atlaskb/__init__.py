"""atlaskb: MITRE ATLAS as a graph you can query, browse and test defenses against."""

__version__ = "0.1.0"


def load(*sources: str):
    """Load sources (vault folders, page files, ATLAS.yaml releases, STIX bundles), in
    order, into one KnowledgeBase; no sources means the bundled ATLAS vault.

    Problems in the input never raise: they are collected in ``kb.findings``. Only a
    source that does not exist raises ``atlaskb.errors.SourceError``.
    """
    import gc

    from atlaskb.kb import build
    from atlaskb.sources import default_sources, read_source

    paths = list(sources) or default_sources()
    # Loading allocates many small, long-lived objects and frees almost none; the cyclic
    # collector would rescan them all again and again, making per-page cost grow with
    # vault size. Pausing it keeps the cost flat.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return build([read_source(p) for p in paths])
    finally:
        if was_enabled:
            gc.enable()
