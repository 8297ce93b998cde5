"""`atlaskb release get`: MITRE's releases into the user's cache, against a local HTTP
server on 127.0.0.1 laid out as MITRE's repository (`v<VERSION>/dist/ATLAS.yaml`,
`main/dist/ATLAS.yaml`); nothing here reaches the network."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
from functools import partial

import pytest

from conftest import run_cli


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture
def server(tmp_path, atlas_yaml_54, atlas_yaml_56):
    """A local mirror: 5.4.0 and 5.6.0 tagged, main = 5.6.0, plus a tag serving an HTML page."""
    root = tmp_path / "mirror"
    for ref, src in (("v5.4.0", atlas_yaml_54), ("v5.6.0", atlas_yaml_56), ("main", atlas_yaml_56),
                     ("v5.5.0", atlas_yaml_54)):
        (root / ref / "dist").mkdir(parents=True)
        shutil.copy(src, root / ref / "dist" / "ATLAS.yaml")
    (root / "v9.0.0" / "dist").mkdir(parents=True)
    (root / "v9.0.0" / "dist" / "ATLAS.yaml").write_text("<html>rate limited</html>\n", encoding="utf-8")
    handler = partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


def test_get_a_version_then_use_it_as_a_source_and_in_diff(server, cache_home, atlas_yaml_54):
    import hashlib

    code, out, err = run_cli("release", "get", "5.4.0", "--base-url", server)
    assert code == 0, err
    path = out.strip()
    assert path.startswith(str(cache_home)) and path.endswith("ATLAS-5.4.0.yaml")
    digest = hashlib.sha256(atlas_yaml_54.read_bytes()).hexdigest()
    assert digest in err and open(path, "rb").read() == atlas_yaml_54.read_bytes()
    assert sorted(os.listdir(os.path.dirname(path))) == ["ATLAS-5.4.0.yaml", "ATLAS-5.4.0.yaml.sha256"]
    code, out, err = run_cli("--source", "atlas:5.4.0", "show", "AML.T0043", "--format", "json")
    assert code == 0 and json.loads(out)["id"] == "AML.T0043", err
    code, _, err = run_cli("release", "get", "5.6.0", "--base-url", server)
    assert code == 0, err
    code, out, err = run_cli("diff", "--old", "atlas:5.4.0", "--new", "atlas:5.6.0", "--format", "json")
    assert code in (0, 1) and "Traceback" not in err and json.loads(out)
    # A second get uses the verified copy, without the server.
    code, out, err = run_cli("release", "get", "5.4.0", "--base-url", "http://127.0.0.1:9")
    assert code == 0 and "already downloaded" in err


def test_inventory_lists_downloaded_releases_and_says_which_can_be_used(server, cache_home):
    from atlaskb.releases import inventory

    assert inventory() == []
    for version in ("5.6.0", "5.4.0"):
        assert run_cli("release", "get", version, "--base-url", server)[0] == 0
    with open(run_cli("release", "get", "5.6.0", "--base-url", server)[1].strip(), "a", encoding="utf-8") as fh:
        fh.write("\n# edited\n")
    found = inventory()
    assert [(r["version"], r["source"]) for r in found] == [("5.4.0", "atlas:5.4.0"), ("5.6.0", "atlas:5.6.0")]
    assert found[0]["state"] == "ok" and len(found[0]["sha256"]) == 64
    assert "changed since it was downloaded" in found[1]["state"] and found[1]["sha256"] == ""
    code, out, _ = run_cli("release", "list", "--format", "json")
    assert code == 0 and json.loads(out) == found


def test_latest_takes_the_version_the_file_declares(server, cache_home):
    code, out, err = run_cli("release", "get", "latest", "--base-url", server)
    assert code == 0, err
    assert out.strip().endswith("ATLAS-5.6.0.yaml") and "atlas:5.6.0" in err
    code, out, err = run_cli("--source", "atlas:latest", "export", "navigator")
    assert code == 0 and {"name": "atlas_data_version", "value": "5.6.0"} in json.loads(out)["metadata"]


def test_offline_is_one_clear_message_and_nothing_is_kept(cache_home):
    code, out, err = run_cli("release", "get", "5.4.0", "--base-url", "http://127.0.0.1:9")
    assert code == 1 and "cannot download" in err and "Traceback" not in err
    assert not (cache_home / "atlaskb" / "releases").exists() or not os.listdir(cache_home / "atlaskb" / "releases")


@pytest.mark.parametrize("version, message", [("9.0.0", "not an ATLAS release"), ("5.5.0", "holds ATLAS 5.4.0"),
                                              ("7.7.7", "HTTP 404")])
def test_what_is_not_the_release_asked_for_is_refused(server, cache_home, version, message):
    code, _, err = run_cli("release", "get", "5.4.0", "--base-url", server)
    assert code == 0, err
    releases = cache_home / "atlaskb" / "releases"
    before = sorted(os.listdir(releases))
    code, _, err = run_cli("release", "get", version, "--base-url", server)
    assert code == 1 and message in err and "Traceback" not in err, err
    assert sorted(os.listdir(releases)) == before  # no partial file, the other release intact


def test_expected_checksum_is_enforced(server, cache_home):
    code, _, err = run_cli("release", "get", "5.4.0", "--base-url", server, "--sha256", "0" * 64)
    assert code == 1 and "not the expected" in err


def test_a_cached_release_changed_afterwards_is_refused(server, cache_home):
    code, out, err = run_cli("release", "get", "5.4.0", "--base-url", server)
    path = out.strip()
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n# edited\n")
    code, _, err = run_cli("--source", "atlas:5.4.0", "tactics")
    assert code == 2 and "changed since it was downloaded" in err and "--force" in err
    code, _, err = run_cli("--source", "atlas:5.4.0", "lint")
    assert code == 2 and "changed since it was downloaded" in err
    code, _, err = run_cli("release", "get", "5.4.0", "--base-url", server, "--force")
    assert code == 0, err
    assert run_cli("--source", "atlas:5.4.0", "tactics")[0] == 0


@pytest.mark.parametrize("version", ["../../etc/passwd", "5", "5.4.0/../x", ""])
def test_version_is_a_plain_number(cache_home, version):
    code, _, err = run_cli("release", "get", version)
    assert code == 2 and "not an ATLAS version" in err


def test_missing_release_says_what_to_run(cache_home):
    code, _, err = run_cli("--source", "atlas:5.2.0", "tactics")
    assert code == 2 and "atlaskb release get 5.2.0" in err
    code, _, err = run_cli("release", "get", "5.4.0", "--base-url", "ftp://127.0.0.1/")
    assert code == 2 and "https://" in err
