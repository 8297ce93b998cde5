"""A cache of parsed knowledge bases, so one-shot CLI queries skip parsing the vault.

Why: parsing the bundled vault's 278 pages costs about as much as all the rest of a
query's process together; the graph it yields is a few hundred kilobytes of JSON that
decode in milliseconds. (Measured in bench/bench_cli.py.)

Rules, each for a reason:

* JSON only, never pickle or marshal: a cache file is data, and reading it must not be
  able to run code, whoever wrote it.
* A hit proves content, not stamps: the key holds, for every source file, its relative
  path, mtime (ns), size and SHA-256. Stamps alone are not proof: a same-size edit whose
  mtime is put back (`touch -d`, sync tools, archive extractors) or a rewrite within one
  clock tick keeps them. Hashing the bundled vault costs about 2 ms per query
  (bench/RESULTS.md). The key also holds the sources' absolute paths, the mtimes and sizes
  of atlaskb's own loader modules, the atlaskb version and this cache's format, and is
  compared exactly (never by a hash of it): any change is a miss, never stale data.
* Written atomically (`fsutil.atomic_write`), only when the sources did not change while
  they were read (the key is taken again after parsing) and only when the graph survives
  a JSON round trip unchanged (an attribute JSON cannot hold exactly, a tuple or a date,
  means no cache rather than a subtly different graph).
* A cache file is untrusted like any input: corrupt, foreign, nested deeper than any
  graph we write (`_MAX_DEPTH`), numbers past Python's digit limit, or unreadable, it is
  a miss (and rewritten); an unwritable cache folder only costs speed. Nothing here ever
  raises to the caller.
* `ATLASKB_NO_CACHE=1` turns it off. The folder is `$XDG_CACHE_HOME/atlaskb`, else
  `~/.cache/atlaskb`; at most `_KEEP` files are kept, the least recently written go.
"""

from __future__ import annotations

import json
import os
import stat
import zlib

from atlaskb.fsutil import file_sha256

FORMAT = 2
_PREFIX = "kb-"
_KEEP = 8
# A graph we write nests 7 deep (node -> procedure -> step -> ...); a file nested deeper
# is not ours, and walking it could exhaust the stack.
_MAX_DEPTH = 32
# atlaskb modules whose code decides what a source parses into.
_LOADER_MODULES = ("__init__.py", "kb.py", "graph.py", "model.py", "cache.py", "sources")


def enabled() -> bool:
    return os.environ.get("ATLASKB_NO_CACHE", "") in ("", "0")


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "atlaskb")


def _tree_stamp(root: str, content: bool = True) -> list:
    """(relative path, mtime_ns, size[, sha256]) of every file under `root`, skipping
    dot-folders and dot-files as the vault reader does (and __pycache__, whose bytecode
    says nothing about content); sorted, so the stamp is order-independent. os.scandir,
    because this runs on every query: it is the cache's whole cost when the cache is warm."""
    out: list = []
    root_real = os.path.realpath(root)

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
                digest = [file_sha256(entry.path)] if content and _hashable(entry, root_real) else []
            except OSError:
                out.append([rel, -1, -1])
                continue
            out.append([rel, st.st_mtime_ns, st.st_size, *digest])

    walk(root, "")
    return out


def _hashable(entry: os.DirEntry, root_real: str) -> bool:
    """Regular files only (a FIFO would block), and a symbolic link only when it stays
    inside the source (the reader does not follow one out, so neither do we)."""
    if entry.is_symlink():
        real = os.path.realpath(entry.path)
        return real.startswith(root_real + os.sep) and os.path.isfile(real)
    return entry.is_file(follow_symlinks=False)


def _stamp(path: str, content: bool = True) -> list:
    """What must not change for a cached load of `path` to stay valid: with `content`,
    every file's hash too (sources; atlaskb's own modules are stamped only)."""
    if os.path.isdir(path):
        return ["dir", _tree_stamp(path, content)]
    st = os.stat(path)
    regular = stat.S_ISREG(st.st_mode)
    return ["file", st.st_mtime_ns, st.st_size, *([file_sha256(path)] if content and regular else [])]


def _parts(paths: list[str]) -> dict:
    from atlaskb import __version__

    pkg = os.path.dirname(os.path.abspath(__file__))
    return {
        "format": FORMAT,
        "version": __version__,
        "code": [[m, _stamp(os.path.join(pkg, m), content=False)] for m in _LOADER_MODULES],
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
    """Rebuild a KnowledgeBase; node and edge insertion order are those of the original.
    No networkx: this is every command's load path (see `atlaskb.graph`)."""
    from atlaskb.graph import AtlasGraph
    from atlaskb.kb import KnowledgeBase
    from atlaskb.model import Finding

    if not isinstance(data["sources"], list) or not all(isinstance(s, dict) for s in data["sources"]):
        raise TypeError("sources: a list of mappings")
    return KnowledgeBase(
        graph=AtlasGraph.from_lists(data["nodes"], data["edges"], data["graph"]),
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
    except (OSError, ValueError, RecursionError):  # ValueError: also ints over the digit limit
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        return None
    return data if _depth_at_most(data, _MAX_DEPTH) else None


def _depth_at_most(data, limit: int) -> bool:
    """Whether `data` nests no deeper than `limit`, level by level (no recursion: the
    point is to refuse what would overflow the stack); about 1 ms for the bundled vault."""
    level = [data]
    for _ in range(limit):
        nxt: list = []
        for item in level:
            if isinstance(item, dict):
                nxt.extend(item.values())
            elif isinstance(item, list):
                nxt.extend(item)
        if not nxt:
            return True
        level = nxt
    return False


def get(key: str | None):
    """The cached KnowledgeBase for `key`, or None (disabled, missing, stale, corrupt)."""
    data = _read(key)
    if data is None:
        return None
    try:
        return from_data(data)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
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
