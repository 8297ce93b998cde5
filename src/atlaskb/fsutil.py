"""Atomic output: a failed or interrupted write leaves the previous output intact.

Folders (a site, a vault, an evidence directory) are written into a temporary sibling
and swapped into place only once complete; single files go through a temporary file
and `os.replace`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def atomic_dir(target: str) -> Iterator[str]:
    """Yield a fresh temporary folder beside `target`; on success it replaces `target`.

    On an exception the temporary folder is removed and `target` is untouched.
    """
    target = os.path.abspath(target)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.tmp-", dir=parent)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.chmod(tmp, 0o755)
    if os.path.isdir(target) and not os.path.islink(target):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-", dir=parent)
        os.rmdir(old)
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        if os.path.lexists(target):
            os.remove(target)
        os.replace(tmp, target)


def refuse_to_replace(target: str, why_not_ours: Callable[[list[str]], str | None]) -> None:
    """Guard for `atomic_dir`, which replaces `target` whole: refuse a file, or a non-empty
    folder that `why_not_ours(entries)` says this command did not write (the reason it
    returns goes into the message). A mistyped `--out .` must not delete someone's files.
    """
    from atlaskb.errors import UsageError

    if os.path.lexists(target) and not os.path.isdir(target):
        raise UsageError(f"{target} exists and is not a folder; give a new or empty folder")
    if not os.path.isdir(target):
        return
    try:
        entries = sorted(os.listdir(target))
    except OSError as e:
        raise UsageError(f"cannot read {target}: {e.strerror or e}") from None
    reason = why_not_ours(entries) if entries else None
    if reason:
        raise UsageError(f"refusing to replace {target}: {reason}; choose another --out or empty it")


def atomic_write(path: str, data: str | bytes) -> None:
    """Write a file through a temporary file in the same folder and rename it into place."""
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
