"""A cache of parsed knowledge bases, so one-shot CLI queries skip parsing the vault.

Why: parsing the bundled vault's 278 pages costs about as much as all the rest of a
query's process together; the graph it yields is a few hundred kilobytes of JSON that
decode in milliseconds. (Measured in bench/bench_cli.py.)

Rules, each for a reason:

* JSON only, never pickle or marshal: a cache file is data, and reading it must not be
  able to run code, whoever wrote it.
* Keyed (exactly, not by a hash) by the sources' absolute paths and, for every file under them, its relative
  path, mtime (ns) and size; by the mtimes and sizes of atlaskb's own loader modules; by
  the atlaskb version and this cache's format. Any change is a miss, never stale data.
* Written atomically (`fsutil.atomic_write`), only when the sources did not change while
  they were read and none was modified in the last two seconds (mtimes are coarse: a
  same-size rewrite within one clock tick would otherwise go unseen), and only when the graph survives a JSON round trip unchanged (an
  attribute JSON cannot hold exactly, a tuple or a date, means no cache rather than a
  subtly different graph).
* A corrupt, foreign or unreadable file is ignored (and rewritten); an unwritable cache
  folder only costs speed. Nothing here ever raises to the caller.
* `ATLASKB_NO_CACHE=1` turns it off. The folder is `$XDG_CACHE_HOME/atlaskb`, else
  `~/.cache/atlaskb`; at most `_KEEP` files are kept, the least recently written go.
"""

from __future__ import annotations

import json
import os
import time
import zlib

FORMAT = 1
_PREFIX = "kb-"
_KEEP = 8
# File mtimes come from a coarse clock (a few ms): a file rewritten with the same size
# within one tick keeps its stamp. Sources modified less than this long ago are not
# cached (git's "racy clean" rule); the next query after that caches them.
_RACY_NS = 2_000_000_000
# atlaskb modules whose code decides what a source parses into.
_LOADER_MODULES = ("__init__.py", "kb.py", "model.py", "cache.py", "sources")


def enabled() -> bool:
    return os.environ.get("ATLASKB_NO_CACHE", "") in ("", "0")


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "atlaskb")


def _tree_stamp(root: str) -> list:
    """(relative path, mtime_ns, size) of every file under `root`, skipping dot-folders
    and dot-files as the vault reader does (and __pycache__, whose bytecode says nothing
    about content); sorted, so the stamp is order-independent. os.scandir, because
    this runs on every query: it is the cache's whole cost when the cache is warm."""
    out: list = []

    def walk(folder: str, prefix: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            out.append([prefix or ".", -1, -1])
            return
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name == "__pycache__":
                continue
            rel = prefix + name
            try:
                if entry.is_dir(follow_symlinks=False):
                    walk(entry.path, rel + "/")
                    continue
                st = entry.stat()
            except OSError:
                out.append([rel, -1, -1])
                continue
            out.append([rel, st.st_mtime_ns, st.st_size])

    walk(root, "")
    return out


def _stamp(path: str) -> list:
    """What must not change for a cached load of `path` to stay valid."""
    if os.path.isdir(path):
        return ["dir", _tree_stamp(path)]
    st = os.stat(path)
    return ["file", st.st_mtime_ns, st.st_size]


def _parts(paths: list[str]) -> dict:
    from atlaskb import __version__

    pkg = os.path.dirname(os.path.abspath(__file__))
    return {
        "format": FORMAT,
        "version": __version__,
        "code": [[m, _stamp(os.path.join(pkg, m))] for m in _LOADER_MODULES],
        "sources": [[os.path.abspath(p), _stamp(p)] for p in paths],
    }


def cache_key(paths: list[str]) -> str | None:
    """The full stamp of `paths` as one string, or None when a path is missing (the loader
    then reports it). It starts with a CRC of the source paths alone, which names the
    cache file (so an edited vault replaces its entry instead of adding one); the whole
    string is stored in the file and compared exactly, so no hash collision can make a
    stale entry look valid (and no hashlib import is paid on the query path)."""
    try:
        parts = _parts(paths)
    except OSError:
        return None
    name = zlib.crc32(json.dumps([parts["format"], parts["version"], [s[0] for s in parts["sources"]]]).encode())
    return f"{name:08x}:" + json.dumps(parts, sort_keys=True, separators=(",", ":"))


def _newest_mtime_ns(paths: list[str]) -> int:
    newest = 0
    for p in paths:
        stamp = _stamp(p)
        if stamp[0] == "dir":
            newest = max([newest] + [e[1] for e in stamp[1]])
        else:
            newest = max(newest, stamp[1])
    return newest


def _file_for(key: str) -> str:
    return os.path.join(cache_dir(), f"{_PREFIX}{key[:8]}.json")


# -- (de)serialising -----------------------------------------------------------------------

def to_data(kb, key: str) -> dict:
    g = kb.graph
    return {
        "format": FORMAT,
        "key": key,
        "graph": dict(g.graph),
        "nodes": [[n, d] for n, d in g.nodes(data=True)],
        "edges": [[u, v, k, d] for u, v, k, d in g.edges(keys=True, data=True)],
        "findings": [f.as_dict() for f in kb.findings],
        "sources": kb.sources,
        "declared": [[list(k), sorted(v)] for k, v in kb.declared.items()],
        "page_source": [[k, v] for k, v in kb.page_source.items()],
    }


def from_data(data: dict):
    """Rebuild a KnowledgeBase; node and edge insertion order are those of the original."""
    import networkx as nx

    from atlaskb.kb import KnowledgeBase
    from atlaskb.model import Finding

    g = nx.MultiDiGraph()
    g.graph.update(data["graph"])
    g.add_nodes_from((n, d) for n, d in data["nodes"])
    g.add_edges_from((u, v, k, d) for u, v, k, d in data["edges"])
    return KnowledgeBase(
        graph=g,
        findings=[Finding(**f) for f in data["findings"]],
        sources=data["sources"],
        declared={tuple(k): set(v) for k, v in data["declared"]},
        page_source={k: v for k, v in data["page_source"]},
    )


# -- the two entry points used by atlaskb.load ----------------------------------------------

def _read(key: str | None) -> dict | None:
    if key is None or not enabled():
        return None
    try:
        with open(_file_for(key), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        return None
    return data


def get(key: str | None):
    """The cached KnowledgeBase for `key`, or None (disabled, missing, stale, corrupt)."""
    data = _read(key)
    if data is None:
        return None
    try:
        return from_data(data)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def load_lite(sources: list[str] | tuple[str, ...]):
    """A networkx-free `graphlite.LiteKnowledgeBase` from a warm cache, or None (cold,
    disabled, corrupt): the caller then loads normally, which fills the cache."""
    from atlaskb.sources import default_sources

    paths = list(sources) or default_sources()
    data = _read(cache_key(paths)) if enabled() else None
    if data is None:
        return None
    try:
        from atlaskb.graphlite import LiteGraph, LiteKnowledgeBase
        from atlaskb.model import Finding

        graph = LiteGraph.from_lists(data["nodes"], data["edges"], data["graph"])
        return LiteKnowledgeBase(graph, [Finding(**f) for f in data["findings"]], data["sources"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def put(key: str | None, kb, paths: list[str]) -> bool:
    """Store `kb` under `key` if the sources are unchanged since `key` was computed and the
    graph round-trips through JSON exactly. Returns whether a file was written."""
    if key is None or not enabled():
        return False
    try:
        data = to_data(kb, key)
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        if json.loads(text) != data:
            return False  # an attribute JSON would change (tuple, ...): better no cache
        if cache_key(paths) != key:
            return False  # a source changed while it was read
        if time.time_ns() - _newest_mtime_ns(paths) < _RACY_NS:
            return False  # too fresh: a same-size rewrite within the clock tick would go unseen
        from atlaskb.fsutil import atomic_write

        atomic_write(_file_for(key), text)
        _prune(os.path.basename(_file_for(key)))
        return True
    except (OSError, TypeError, ValueError):
        return False


def _prune(keep_name: str) -> None:
    """Keep the `_KEEP` most recently written cache files (always `keep_name`)."""
    folder = cache_dir()
    try:
        names = [n for n in os.listdir(folder) if n.startswith(_PREFIX) and n.endswith(".json")]
        if len(names) <= _KEEP:
            return
        names.sort(key=lambda n: os.stat(os.path.join(folder, n)).st_mtime_ns, reverse=True)
        for n in names[_KEEP:]:
            if n != keep_name:
                os.remove(os.path.join(folder, n))
    except OSError:
        pass


def clear() -> int:
    """Remove every cache file; returns how many were removed."""
    folder = cache_dir()
    removed = 0
    try:
        for n in os.listdir(folder):
            if n.startswith(_PREFIX) and n.endswith(".json"):
                os.remove(os.path.join(folder, n))
                removed += 1
    except OSError:
        pass
    return removed
