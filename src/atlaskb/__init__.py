"""atlaskb: MITRE ATLAS as a graph you can query, browse and test defenses against."""

__version__ = "0.1.0"


def load(*sources: str):
    """Load sources (vault folders, page files, ATLAS.yaml releases, STIX bundles), in
    order, into one KnowledgeBase; no sources means the bundled ATLAS vault.

    Problems in the input never raise: they are collected in ``kb.findings``. Only a
    source that does not exist raises ``atlaskb.errors.SourceError``.
    """
    from atlaskb.kb import build
    from atlaskb.sources import default_sources, read_source

    paths = list(sources) or default_sources()
    return build([read_source(p) for p in paths])
