"""Where atlaskb writes: output paths, atomic output, and never deleting what it did not write.

This module is the one home of the rule for every `--out`:

1. An output path must name something: `''` is refused (it is not `.`), as is a name the
   file system cannot encode (a lone surrogate), a symbolic link (replacing it would drop
   the user's link), and a place below a file.
2. A folder atlaskb writes whole (a site, a vault, an evidence folder) is built in a
   temporary sibling and swapped into place only when complete, so a failed or
   interrupted run leaves the previous output intact. Its last file is the manifest
   `.atlaskb-manifest.json`: who wrote it (`"written_by": "atlaskb"`), what kind of
   output it is, and the SHA-256 of every file written. That manifest, and nothing a user
   could plausibly have by chance (a `results.json`, a `techniques/` folder), is what
   makes a folder atlaskb's.
3. An existing output folder is replaced only when it is empty, or holds a manifest of the
   same kind; then
   - a listed file whose content still matches its hash is atlaskb's, and is replaced;
   - an entry at the top that the manifest does not list (`CNAME`, `.git/`, a README)
     is the user's and is kept: moved into the new output (a name the new output also
     writes stops the command);
   - a listed file that was changed since, or an unlisted entry deeper down, stops the
     command before anything is touched, naming it.
   Anything else (no manifest, another kind, a file) is refused.
4. Temporary folders (`.NAME.tmp-*`, `.NAME.old-*`) carry an owner file naming the
   process that made them. A later run for the same output removes those whose process
   is gone, first putting back any user entries they were carrying; a folder without that
   owner file, or whose process still runs, is never touched, except an empty one whose
   name (`.NAME.tmp-PID-*`) names a process that is gone: a run killed as it made it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

MANIFEST = ".atlaskb-manifest.json"
OWNER = ".atlaskb-owner.json"
_FORMAT = 1
_MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_PREVIOUS = "previous"  # inside an `.old-` folder: the output being replaced


def _usage(message: str):
    from atlaskb.errors import UsageError

    return UsageError(message)


def shown(path: str) -> str:
    """`path` printable on any terminal: undecodable bytes and lone surrogates as escapes."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(path, str) else str(path)


def check_out_path(out: str | None, what: str = "--out") -> str:
    """`out` as an absolute path, or UsageError: empty, unencodable, below a file."""
    if out is None or not str(out).strip():
        raise _usage(f"{what} is empty; name a folder or file (use . for the current folder)")
    try:
        os.fsencode(out)
        out.encode("utf-8", "surrogateescape")
    except UnicodeError:
        raise _usage(f"{what} {shown(out)} is not a valid file name (a lone surrogate); choose another") from None
    if "\x00" in out:
        raise _usage(f"{what} contains a NUL character; choose another name")
    target = os.path.abspath(out)
    parent = os.path.dirname(target)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise _usage(f"cannot write {shown(out)}: {shown(parent)} is a file, not a folder")
    return target


# -- manifests --------------------------------------------------------------------------------

def file_sha256(path: str) -> str:
    """SHA-256 of a file: whole in one read for a page (what makes hashing hundreds of
    small files cheap), in blocks past a few megabytes."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size <= 1 << 23:
            return hashlib.sha256(fh.read()).hexdigest()
        h = hashlib.sha256()
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files_under(root: str) -> list[str]:
    """Relative paths (with /) of every file under `root` but our two marker files, sorted."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(folder, root).replace(os.sep, "/")
        for name in files:
            path = name if rel == "." else f"{rel}/{name}"
            if path not in (MANIFEST, OWNER):
                found.append(path)
    return sorted(found)


def write_manifest(root: str, kind: str) -> None:
    """The last file of an output: who wrote it, and a hash of every file it holds."""
    files = {p: file_sha256(os.path.join(root, p)) for p in _files_under(root)}
    doc = {"written_by": "atlaskb", "kind": kind, "format": _FORMAT, "files": files}
    atomic_write(os.path.join(root, MANIFEST), json.dumps(doc, indent=1, sort_keys=True) + "\n")


def read_manifest(folder: str) -> dict | None:
    """The manifest of `folder` when it is one atlaskb wrote (right shape), else None."""
    path = os.path.join(folder, MANIFEST)
    try:
        if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > _MAX_MANIFEST_BYTES:
            return None
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError, RecursionError):
        return None
    if not (isinstance(doc, dict) and doc.get("written_by") == "atlaskb" and doc.get("format") == _FORMAT
            and isinstance(doc.get("kind"), str) and isinstance(doc.get("files"), dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in doc["files"].items())):
        return None
    return doc


@dataclass
class Plan:
    """What replacing an output folder will do: `keep` are the user's top-level entries
    that move into the new output."""

    target: str
    exists: bool = False
    keep: list = field(default_factory=list)
    # rel -> (size, mtime_ns, ctime_ns, inode) of each file whose hash was checked: the
    # check at the swap re-hashes only files whose stat changed since (userland cannot
    # set ctime, so an edit in between always shows).
    verified: dict = field(default_factory=dict)


def plan_replace(out: str, kind: str, label: str, verified: dict | None = None) -> Plan:
    """Check that `out` may be replaced by a new output of `kind` (see the module's rule);
    UsageError naming the first thing that stops it. Touches nothing. `verified` is an
    earlier plan's record of checked files, to skip hashing them again."""
    target = check_out_path(out)
    name = shown(out)
    if os.path.islink(target):
        raise _usage(f"{name} is a symbolic link; give the folder it points to, or another --out")
    if not os.path.lexists(target):
        return Plan(target)
    if not os.path.isdir(target):
        raise _usage(f"{name} exists and is not a folder; give a new or empty folder")
    try:
        entries = sorted(os.listdir(target))
    except OSError as e:
        raise _usage(f"cannot read {name}: {e.strerror or e}") from None
    if not entries:
        return Plan(target, exists=True)
    manifest = read_manifest(target)
    refuse = f"refusing to replace {name}"
    if manifest is None:
        legacy = any(e.startswith(".atlaskb-") for e in entries)
        raise _usage(f"{refuse}: it holds {shown(entries[0])!r} and no {MANIFEST}, so it was not written by "
                     f"{label}" + (" (or by an atlaskb older than the manifest: if so, delete it and run again)"
                                   if legacy else "") + "; choose another --out or empty it")
    if manifest["kind"] != kind:
        raise _usage(f"{refuse}: it holds a {manifest['kind']} that atlaskb wrote, not a {kind}; choose another --out")
    listed = manifest["files"]
    owner = os.path.join(target, OWNER)
    if os.path.lexists(owner) and (os.path.islink(owner) or not os.path.isfile(owner)):
        raise _usage(f"{refuse}: it holds {OWNER}, which atlaskb did not write; move it out of the way")
    ours_top = {p.split("/", 1)[0] for p in listed} | {MANIFEST, OWNER}
    keep = [e for e in entries if e not in ours_top]
    plan = Plan(target, exists=True, keep=keep)
    tops = {e for e in entries if e in ours_top and e not in (MANIFEST, OWNER)}
    problem = _changed_or_foreign(target, listed, tops, verified or {}, plan.verified)
    if problem:
        raise _usage(f"{refuse}: {problem}; move it out of the way or choose another --out "
                     "(atlaskb never deletes files it did not write)")
    return plan


def _changed_or_foreign(target: str, listed: dict, tops: set, known: dict, record: dict) -> str | None:
    """The first path under `tops` that is not, byte for byte, a file the manifest lists.
    A file whose stat matches `known` was hashed before; every checked file goes into
    `record`."""
    dirs = {p.rsplit("/", 1)[0] for p in listed if "/" in p}
    dirs |= {d.rsplit("/", i)[0] for d in list(dirs) for i in range(1, d.count("/") + 1)}
    stack = sorted(tops, reverse=True)
    while stack:
        rel = stack.pop()
        full = os.path.join(target, rel)
        if rel in listed:
            try:
                st = os.lstat(full)
                if not stat.S_ISREG(st.st_mode):
                    return f"{shown(rel)} is no longer the file atlaskb wrote"
                stamp = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                if known.get(rel) != stamp and file_sha256(full) != listed[rel]:
                    return f"{shown(rel)} was changed after atlaskb wrote it"
                record[rel] = stamp
            except OSError as e:
                return f"{shown(rel)} cannot be read ({e.strerror or e})"
        elif rel in dirs and os.path.isdir(full) and not os.path.islink(full):
            try:
                stack += sorted((f"{rel}/{e}" for e in os.listdir(full)), reverse=True)
            except OSError as e:
                return f"{shown(rel)} cannot be read ({e.strerror or e})"
        else:
            return f"it holds {shown(rel)}, which atlaskb did not write"
    return None


# -- temporary folders and their owners -------------------------------------------------------

def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux), so a reused PID is not taken for the owner."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner_doc(target: str, carried: list) -> dict:
    import socket

    return {"written_by": "atlaskb", "pid": os.getpid(), "start": _process_start(os.getpid()),
            "host": socket.gethostname(), "target": os.path.basename(target), "carried": carried}


def _write_owner(folder: str, target: str, carried: list | None = None) -> None:
    atomic_write(os.path.join(folder, OWNER), json.dumps(_owner_doc(target, carried or [])))


def _owned_temp_dir(target: str, kind: str) -> str:
    """A new `.NAME.<kind>-PID-*` folder beside `target` holding its owner file. The record
    is made before the folder and the PID is in the name: a run killed between the two
    steps leaves an empty folder that `clean_leftovers` can still tell is orphaned."""
    import tempfile

    record = json.dumps(_owner_doc(target, []))
    folder = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.{kind}-{os.getpid()}-",
                              dir=os.path.dirname(target))
    atomic_write(os.path.join(folder, OWNER), record)
    return folder


def _orphaned_empty(folder: str, suffix: str) -> bool:
    """Whether `folder` (named `.NAME.<kind>-<suffix>`) is one a killed run had just made,
    now removed: its name's PID names no process, and it holds nothing but, at most, the
    temporary file of its owner record. Removing it removes nothing of anyone's."""
    pid = suffix.split("-", 1)[0]
    if not pid.isdigit() or int(pid) in (0, os.getpid()) or _alive(int(pid)) is not False:
        return False
    try:
        entries = os.listdir(folder)
        if any(not e.startswith(f".{OWNER}.") for e in entries):
            return False
        for e in entries:
            os.remove(os.path.join(folder, e))
        os.rmdir(folder)
        return True
    except OSError:
        return False


def _alive(pid: int) -> bool | None:
    """Whether process `pid` exists (True also for another user's); None when it cannot be told."""
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except (OverflowError, ValueError):
        return None


def _stale_owner(folder: str, target: str) -> dict | None:
    """The owner record of a temporary folder when atlaskb made it for `target` and the
    process that made it is gone; None when in doubt (no record, another host, alive)."""
    path = os.path.join(folder, OWNER)
    try:
        if os.path.islink(path) or os.path.getsize(path) > 1 << 20:
            return None
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError, RecursionError):
        return None
    if not (isinstance(doc, dict) and doc.get("written_by") == "atlaskb" and isinstance(doc.get("pid"), int)
            and doc.get("target") == os.path.basename(target) and isinstance(doc.get("carried"), list)
            and all(isinstance(c, str) and c and "/" not in c and c not in (".", "..") for c in doc["carried"])):
        return None
    import socket

    if doc.get("host") != socket.gethostname() or os.name != "posix":
        return None  # cannot tell whether its process lives
    pid = doc["pid"]
    if pid <= 0 or pid == os.getpid():
        return None  # 0 and negative numbers name process groups, not a process
    alive = _alive(pid)
    if alive is None:
        return None
    if alive and doc.get("start") is not None and _process_start(pid) not in (None, doc["start"]):
        alive = False  # the PID was reused by another process
    return None if alive else doc


def clean_leftovers(target: str) -> list[str]:
    """Remove the temporary folders that an interrupted run for `target` left beside it
    (rule 4 of the module); returns what was removed. Never raises for a leftover it
    cannot handle: that one stays."""
    target = os.path.abspath(target)
    parent, base = os.path.split(target)
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return []
    removed = []
    for kind in ("old", "tmp"):  # an old output goes back first if the swap was cut short
        for name in names:
            if not name.startswith(f".{base}.{kind}-"):
                continue
            folder = os.path.join(parent, name)
            if os.path.islink(folder) or not os.path.isdir(folder):
                continue
            owner = _stale_owner(folder, target)
            if owner is not None and _settle(folder, target, kind, owner["carried"]):
                removed.append(folder)
            elif owner is None and _orphaned_empty(folder, name[len(f".{base}.{kind}-"):]):
                removed.append(folder)
    return removed


def _settle(folder: str, target: str, kind: str, carried: list) -> bool:
    """Put back what a dead run's temporary folder holds of the user's, then remove it."""
    import shutil

    try:
        if kind == "old":
            previous = os.path.join(folder, _PREVIOUS)
            if os.path.isdir(previous) and not os.path.lexists(target):
                os.replace(previous, target)  # cut between the two renames: restore the old output
            elif os.path.isdir(previous) and not _remove_listed(previous):
                return False
        for entry in carried:
            src = os.path.join(folder, entry)
            if os.path.lexists(src):
                os.makedirs(target, exist_ok=True)
                if os.path.lexists(os.path.join(target, entry)):
                    return False  # both exist: leave the leftover for a person to judge
                os.replace(src, os.path.join(target, entry))
        shutil.rmtree(folder)
        return True
    except OSError:
        return False


def _remove_listed(folder: str) -> bool:
    """Delete the files `folder`'s manifest lists (and it), then the folders left empty.
    True when nothing else was there."""
    manifest = read_manifest(folder)
    for rel in (manifest or {}).get("files", {}):
        parts = [p for p in rel.split("/") if p]
        if ".." in parts or not parts or _linked_folder_on_the_way(folder, parts[:-1]):
            continue  # never remove through a link: the file would be somewhere else
        path = os.path.join(folder, *parts)
        if os.path.isfile(path) or os.path.islink(path):
            with contextlib.suppress(OSError):
                os.remove(path)
    for name in (MANIFEST, OWNER):
        path = os.path.join(folder, name)
        if os.path.islink(path) or os.path.isfile(path):
            with contextlib.suppress(OSError):
                os.remove(path)
    for sub, _dirs, _files in sorted(os.walk(folder), key=lambda t: -len(t[0])):
        with contextlib.suppress(OSError):
            os.rmdir(sub)
    return not os.path.lexists(folder)


def _linked_folder_on_the_way(folder: str, parts: list) -> bool:
    """Whether any of the folders `parts` below `folder` is a symbolic link (or not a folder)."""
    path = folder
    for part in parts:
        path = os.path.join(path, part)
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return True
        except OSError:
            return True
    return False


# -- writing ----------------------------------------------------------------------------------

@contextlib.contextmanager
def output_dir(out: str, kind: str, label: str) -> Iterator[str]:
    """Yield a fresh temporary folder beside `out`; when the block succeeds, write the
    manifest and swap it into place under the module's rule (the check is repeated at the
    swap, since a long run gives the user time to change the folder). `label` names the
    command for messages ("atlaskb site build").

    On an exception the temporary folder is removed and `out` is untouched.
    """
    import shutil

    plan = plan_replace(out, kind, label)
    target = plan.target
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    clean_leftovers(target)
    tmp = _owned_temp_dir(target, "tmp")
    try:
        yield tmp
        write_manifest(tmp, kind)
        plan = plan_replace(out, kind, label, plan.verified)
        clash = [e for e in plan.keep if os.path.lexists(os.path.join(tmp, e))]
        if clash:
            raise _usage(f"refusing to replace {shown(out)}: it holds {shown(clash[0])}, which atlaskb did not "
                         "write and which the new output also has; move it away or choose another --out")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.chmod(tmp, 0o755)
    _swap(tmp, plan)


def _swap(tmp: str, plan: Plan) -> None:
    """Carry the user's top-level entries into `tmp`, then put `tmp` where the old output
    was. A failure puts everything back as it was; a kill part-way is put back by the
    next run (`clean_leftovers`), which is why the journal is written first."""
    import shutil

    target = plan.target
    moved: list = []
    old = None
    try:
        if plan.keep:
            _write_owner(tmp, target, plan.keep)
            for entry in plan.keep:
                os.replace(os.path.join(target, entry), os.path.join(tmp, entry))
                moved.append(entry)
        if plan.exists:
            old = _owned_temp_dir(target, "old")
            os.replace(target, os.path.join(old, _PREVIOUS))
        os.replace(tmp, target)
    except BaseException:
        _undo_swap(tmp, target, old, moved)
        raise
    with contextlib.suppress(OSError):
        os.remove(os.path.join(target, OWNER))
    if old is not None and _remove_listed(os.path.join(old, _PREVIOUS)):
        shutil.rmtree(old, ignore_errors=True)


def _undo_swap(tmp: str, target: str, old: str | None, moved: list) -> None:
    """Put the old output and the user's entries back after a failed swap. Whatever
    cannot be put back stays in its owned temporary folder for the next run to settle;
    nothing of the user's is removed."""
    import shutil

    try:
        if old is not None:
            previous = os.path.join(old, _PREVIOUS)
            if os.path.isdir(previous) and not os.path.lexists(target):
                os.replace(previous, target)
            if not os.path.lexists(previous):
                shutil.rmtree(old)
        for entry in reversed(moved):
            os.replace(os.path.join(tmp, entry), os.path.join(target, entry))
        moved.clear()
        shutil.rmtree(tmp)
    except OSError:
        pass


def write_output_file(out: str, data: str | bytes) -> None:
    """`atomic_write` for a user's `--out FILE`: a place that cannot be written is an
    AtlasError naming it, not a traceback."""
    from atlaskb.errors import AtlasError

    path = check_out_path(out)
    if os.path.isdir(path):
        raise _usage(f"{shown(out)} is a folder; give a file name")
    try:
        atomic_write(path, data)
    except OSError as e:
        raise AtlasError(f"cannot write {shown(out)}: {e.strerror or e}") from None


def atomic_write(path: str, data: str | bytes) -> None:
    """Write a file through a temporary file in the same folder and rename it into place."""
    import tempfile

    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
