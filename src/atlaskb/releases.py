"""MITRE's published ATLAS releases, downloaded once into the user's cache.

`atlaskb release get 5.4.0` fetches ``dist/ATLAS.yaml`` of the ``v5.4.0`` tag of
MITRE's atlas-data repository (``latest``: of its ``main`` branch) and keeps it as
``<cache>/releases/ATLAS-<version>.yaml`` beside its SHA-256. Any command then takes it
as ``--source atlas:5.4.0`` (``atlas:latest`` is the newest one downloaded), and so does
``diff``.

Rules, each for a reason:

* The file is checked before it is kept: it must be an ATLAS release (a ``matrices``
  list that atlaskb reads), no larger than any source atlaskb reads, and declare the
  version asked for. A proxy's error page or a moved file is refused, not cached.
* Written atomically (temporary file, then rename; the checksum last): an interrupted
  download leaves the previous copy and no partial file.
* Checksummed: the SHA-256 is recorded at download and checked every time the release
  is used, so a cached file changed afterwards is refused rather than silently read.
  ``--sha256`` also checks the download against a digest the user trusts.
* Only http(s). The base URL is ``ATLASKB_RELEASE_URL`` or ``--base-url`` when set (a
  mirror, or a test's local server); the version is a plain dotted number, so it can
  never name a path outside the cache.
* Offline, or any network failure, is one clear message, never a traceback.
"""

from __future__ import annotations

import os
import re

from atlaskb.errors import AtlasError, SourceError, UsageError

DEFAULT_BASE_URL = "https://raw.githubusercontent.com/mitre-atlas/atlas-data"
BASE_URL_ENV = "ATLASKB_RELEASE_URL"
PREFIX = "atlas:"
LATEST = "latest"
_VERSION = re.compile(r"^\d{1,4}(\.\d{1,4}){1,3}$")
_TIMEOUT_S = 60


def releases_dir() -> str:
    from atlaskb.cache import cache_dir

    return os.path.join(cache_dir(), "releases")


def check_version(version: str) -> str:
    v = version.strip()
    if v.lower() == LATEST:
        return LATEST
    v = v[1:] if v[:1] in "vV" else v
    if not _VERSION.match(v):
        raise UsageError(f"{version!r} is not an ATLAS version: give one like 5.4.0 (or `latest`)")
    return v


def release_url(version: str, base_url: str | None = None) -> str:
    """Where MITRE publishes `version` (``latest``: the main branch's current file)."""
    base = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    if not base.lower().startswith(("https://", "http://")):
        raise UsageError(f"release base URL must start with https:// or http://, not {base!r}")
    ref = "main" if version == LATEST else f"v{version}"
    return f"{base}/{ref}/dist/ATLAS.yaml"


def path_of(version: str) -> str:
    return os.path.join(releases_dir(), f"ATLAS-{version}.yaml")


def _digest(data: bytes) -> str:
    import hashlib  # only here: the query path that never names a release must not pay for it

    return hashlib.sha256(data).hexdigest()


def cached() -> list[str]:
    """Versions downloaded so far, oldest first."""
    try:
        names = os.listdir(releases_dir())
    except OSError:
        return []
    found = [n[len("ATLAS-"):-len(".yaml")] for n in names if n.startswith("ATLAS-") and n.endswith(".yaml")]
    return sorted((v for v in found if _VERSION.match(v)), key=lambda v: tuple(int(p) for p in v.split(".")))


def get(version: str, base_url: str | None = None, sha256: str | None = None,
        force: bool = False) -> tuple[str, str, str, bool]:
    """Download `version` (or ``latest``) unless a verified copy is cached. Returns
    (path, version, sha256, downloaded)."""
    version = check_version(version)
    if version != LATEST and not force:
        try:
            path, digest = verified(version)
        except SourceError:
            pass
        else:
            if sha256 and sha256.lower() != digest:
                raise AtlasError(f"the cached ATLAS {version} has SHA-256 {digest}, not {sha256}; "
                                 "use --force to download it again")
            return path, version, digest, False
    url = release_url(version, base_url)
    data = _download(url)
    digest = _digest(data)
    if sha256 and sha256.lower() != digest:
        raise AtlasError(f"{url}: SHA-256 {digest} is not the expected {sha256}; nothing kept")
    found = _release_version(data, url)
    if version != LATEST and found != version:
        raise AtlasError(f"{url} holds ATLAS {found}, not {version}; nothing kept")
    _keep(found, data, digest)
    return path_of(found), found, digest, True


def _download(url: str) -> bytes:
    import urllib.error
    import urllib.request

    from atlaskb.sources.files import MAX_DATA_BYTES

    request = urllib.request.Request(url, headers={"User-Agent": "atlaskb"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310 - scheme checked
            data = response.read(MAX_DATA_BYTES + 1)
    except urllib.error.HTTPError as e:
        hint = " (no such release?)" if e.code == 404 else ""
        raise AtlasError(f"cannot download {url}: HTTP {e.code} {e.reason}{hint}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise AtlasError(f"cannot download {url}: {reason} (offline? a proxy? "
                         f"set {BASE_URL_ENV} or --base-url for a mirror)") from None
    if len(data) > MAX_DATA_BYTES:
        raise AtlasError(f"{url}: larger than {MAX_DATA_BYTES // (1024 * 1024)} MB, not an ATLAS release; nothing kept")
    return data


def _release_version(data: bytes, url: str) -> str:
    """The version the downloaded file declares, once atlaskb has read it as a release."""
    import tempfile

    from atlaskb.sources.atlas_yaml import read_atlas_yaml

    fd, tmp = tempfile.mkstemp(prefix="atlaskb-release-", suffix=".yaml")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        result = read_atlas_yaml(tmp, url)
    finally:
        os.remove(tmp)
    errors = [f for f in result.findings if f.level == "error" and f.code == "bad-yaml"]
    if errors or not result.objects:
        why = errors[0].message if errors else "no ATLAS objects in it"
        raise AtlasError(f"{url} is not an ATLAS release ({why}); nothing kept")
    found = str(result.meta.get("version") or "").strip()
    if not _VERSION.match(found):
        raise AtlasError(f"{url} declares no usable version ({found[:40]!r}); nothing kept")
    return found


def _keep(version: str, data: bytes, digest: str) -> None:
    from atlaskb.fsutil import atomic_write

    path = path_of(version)
    try:
        atomic_write(path, data)
        atomic_write(path + ".sha256", f"{digest}  {os.path.basename(path)}\n")
    except OSError as e:
        raise AtlasError(f"cannot write {path}: {e.strerror or e}") from None


def verified(version: str) -> tuple[str, str]:
    """(path, sha256) of a cached release whose bytes still match the recorded digest.
    Raises SourceError saying what to run when it is missing or changed."""
    version = check_version(version)
    if version == LATEST:
        have = cached()
        if not have:
            raise SourceError("no ATLAS release downloaded yet; run `atlaskb release get latest`")
        version = have[-1]
    path = path_of(version)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        with open(path + ".sha256", encoding="utf-8") as fh:
            recorded = fh.read().split()[0].strip().lower()
    except (OSError, IndexError, UnicodeDecodeError):
        raise SourceError(f"ATLAS {version} is not downloaded; run `atlaskb release get {version}`") from None
    digest = _digest(data)
    if digest != recorded:
        raise SourceError(f"{path} changed since it was downloaded (SHA-256 {digest[:16]}…, recorded "
                          f"{recorded[:16]}…); run `atlaskb release get {version} --force`")
    return path, digest


def inventory() -> list[dict]:
    """Every downloaded release, oldest first, as `atlaskb release list` shows it:
    ``{"version", "source" (atlas:VERSION), "path", "sha256", "state"}``. `state` is
    "ok" when the file still matches the checksum recorded at download, else why it
    cannot be used (and `sha256` is empty)."""
    rows = []
    for version in cached():
        try:
            path, digest = verified(version)
            state = "ok"
        except SourceError as e:
            path, digest, state = path_of(version), "", str(e)
        rows.append({"version": version, "source": f"{PREFIX}{version}", "path": path, "sha256": digest,
                     "state": state})
    return rows


def expand(source: str) -> str:
    """A `--source` as a path: ``atlas:VERSION`` names a downloaded release (checked
    against its checksum); anything else is returned as given."""
    if not is_release(source):
        return source
    return verified(source[len(PREFIX):])[0]


def is_release(source: str) -> bool:
    """Does `source` name a downloaded release (``atlas:5.4.0``) rather than a path?"""
    return source.lower().startswith(PREFIX) and not os.path.exists(source)
