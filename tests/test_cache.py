"""The parsed-KB cache: never stale, never trusted when corrupt, off with
ATLASKB_NO_CACHE=1, and a cached load gives exactly the knowledge base (and so the answers
and the networkx graph) that a fresh load gives, without importing networkx."""

from __future__ import annotations

import json
import os
import shutil

import pytest

import atlaskb
from atlaskb import cache, coverage
from atlaskb import queries as q
from atlaskb.sources import default_sources
from conftest import FIXTURES, REPO, run_cli


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("ATLASKB_NO_CACHE", raising=False)
    return home / "atlaskb"


@pytest.fixture
def vault_copy(tmp_path):
    dst = tmp_path / "vault"
    shutil.copytree(REPO / "data" / "atlas", dst)
    return dst


def graph_facts(kb):
    g = kb.graph
    nodes = [(n, dict(d)) for n, d in g.nodes(data=True)]
    edges = sorted((u, v, k, json.dumps(d, sort_keys=True)) for u, v, k, d in g.edges(keys=True, data=True))
    return nodes, edges


def test_cached_load_equals_fresh_load(cache_home, vault_copy, monkeypatch):
    first = atlaskb.load(str(vault_copy))
    files = list(cache_home.glob("kb-*.json"))
    assert len(files) == 1
    second = atlaskb.load(str(vault_copy))  # from the cache
    assert graph_facts(second) == graph_facts(first)
    assert [n for n in second.graph] == [n for n in first.graph]
    assert second.findings == first.findings and second.sources == first.sources
    assert second.declared == first.declared and second.page_source == first.page_source
    monkeypatch.setenv("ATLASKB_NO_CACHE", "1")
    assert graph_facts(atlaskb.load(str(vault_copy))) == graph_facts(first)


def test_edit_invalidates(cache_home, vault_copy):
    page = next(vault_copy.glob("mitigations/model-hardening.md"))
    atlaskb.load(str(vault_copy))
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("Model Hardening", "Model Hardening Renamed"), encoding="utf-8")
    kb = atlaskb.load(str(vault_copy))
    assert kb.graph.nodes["AML.M0003"]["name"] == "Model Hardening Renamed"
    (vault_copy / "mitigations" / "extra.md").write_text(
        "# ACME.M0001: Extra\n\n## Techniques (1)\n\n- [[x|AML.T0015: Evade AI Model]]\n", encoding="utf-8")
    assert "ACME.M0001" in atlaskb.load(str(vault_copy))
    page.unlink()
    assert atlaskb.load(str(vault_copy)).graph.nodes["AML.M0003"].get("has_page") is False


@pytest.mark.parametrize("source", ["vault", "file"])
def test_same_size_edit_with_its_mtime_put_back_is_seen(cache_home, vault_copy, tmp_path, source):
    """What `touch -d @sec.nsec`, sync tools and archive extractors do: stamps alone would
    call this a hit; the content hash does not."""
    page = vault_copy / "mitigations" / "model-hardening.md"
    if source == "file":
        page = tmp_path / "ATLAS.yaml"
        page.write_text("id: ATLAS\nmatrices:\n- id: ATLAS\n  tactics: []\n  techniques: []\n  mitigations:\n"
                        "  - {id: AML.M0003, name: Model Hardening}\n", encoding="utf-8")
    path = str(vault_copy if source == "vault" else page)
    assert atlaskb.load(path).graph.nodes["AML.M0003"]["name"] == "Model Hardening"
    assert list(cache_home.glob("kb-*.json"))  # cached at once: no "too fresh" rule needed
    st = os.stat(page)
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("Model Hardening", "Model Hardenin_"), encoding="utf-8")
    os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(page).st_size == st.st_size and os.stat(page).st_mtime_ns == st.st_mtime_ns
    assert atlaskb.load(path).graph.nodes["AML.M0003"]["name"] == "Model Hardenin_"
    assert cache.get(cache.cache_key([path])).graph.nodes["AML.M0003"]["name"] == "Model Hardenin_"


def _cache_doc(**fields) -> bytes:
    doc = {"format": 2, "key": "%KEY%", "graph": {}, "nodes": [], "edges": [], "findings": [], "sources": [],
           "declared": [], "page_source": []} | fields
    return json.dumps(doc).encode()


DAMAGE = [
    b"", b"{not json", b"[]", b'{"format": 2, "key": "other"}', b'{"format": 2, "key": "%KEY%", "nodes": 5}',
    b"[" * 200_000 + b"]" * 200_000,  # RecursionError in the decoder
    b'{"format": 2, "key": "%KEY%", "n": ' + b"7" * 5000 + b"}",  # past the int digit limit
    _cache_doc(nodes=[["AML.T0001", {"x": 0}]]).replace(b'"x": 0', b'"x": ' + b"[" * 900 + b"]" * 900),
    _cache_doc(nodes=[[["a"], {}]], edges=[[1, 2]], findings=[{"bad": 1}], sources=3, declared=5, page_source=7),
]


@pytest.mark.parametrize("damage", DAMAGE)
def test_corrupt_cache_is_ignored_and_rewritten(cache_home, vault_copy, damage):
    fresh = atlaskb.load(str(vault_copy))
    (path,) = cache_home.glob("kb-*.json")
    key = json.loads(path.read_text())["key"]
    path.write_bytes(damage.replace(b"%KEY%", key.encode()))
    assert cache.get(key) is None  # a miss, no traceback
    assert graph_facts(atlaskb.load(str(vault_copy))) == graph_facts(fresh)
    assert json.loads(path.read_text())["key"] == key  # rewritten whole


def test_no_cache_env_and_unwritable_folder(tmp_path, monkeypatch, vault_copy):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("ATLASKB_NO_CACHE", "1")
    atlaskb.load(str(vault_copy))
    assert not (tmp_path / "xdg").exists()
    monkeypatch.delenv("ATLASKB_NO_CACHE")
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert "AML.M0003" in atlaskb.load(str(vault_copy))  # only speed is lost


def test_cache_file_is_plain_json(cache_home, vault_copy):
    atlaskb.load(str(vault_copy))
    (path,) = cache_home.glob("kb-*.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == cache.FORMAT and data["nodes"] and data["edges"]


def test_missing_source_still_raises(cache_home):
    from atlaskb.errors import SourceError

    with pytest.raises(SourceError):
        atlaskb.load("/nonexistent/vault")


# -- a cached load answers as a fresh one ----------------------------------------------------------

def nx_facts(g):
    """Everything a networkx graph holds, in its iteration order."""
    return (dict(g.graph), list(g.nodes(data=True)), list(g.edges(keys=True, data=True)),
            {n: list(g.predecessors(n)) for n in g}, {n: list(g.successors(n)) for n in g})


def test_warm_load_answers_like_a_cold_one(cache_home, vault_copy, monkeypatch):
    monkeypatch.setenv("ATLASKB_NO_CACHE", "1")
    cold = atlaskb.load(str(vault_copy))
    monkeypatch.delenv("ATLASKB_NO_CACHE")
    atlaskb.load(str(vault_copy))  # fills the cache
    warm = atlaskb.load(str(vault_copy))
    assert type(warm.graph) is type(cold.graph)
    assert nx_facts(warm.graph) == nx_facts(cold.graph)  # iteration order included
    assert nx_facts(warm.to_networkx()) == nx_facts(cold.to_networkx()) == nx_facts(cold.graph)
    assert warm.graph.number_of_edges() == cold.graph.number_of_edges() == cold.to_networkx().number_of_edges()
    a, b = cold, warm
    for t in cold.nodes_of_type("technique"):
        assert q.mitigations_for(a, t, rollup=True) == q.mitigations_for(b, t, rollup=True)
        assert q.case_studies_for(a, t) == q.case_studies_for(b, t)
        assert q.tactics_of(a, t) == q.tactics_of(b, t)
        assert q.subtechniques(a, t) == q.subtechniques(b, t) and q.parent(a, t) == q.parent(b, t)
    for m in cold.nodes_of_type("mitigation"):
        assert q.techniques_for(a, m) == q.techniques_for(b, m)
    for tac in q.tactics(cold):
        assert q.techniques_of_tactic(a, tac, True) == q.techniques_of_tactic(b, tac, True)
    assert q.tactics(a) == q.tactics(b)
    assert q.search(a, "adversarial") == q.search(b, "adversarial")
    assert q.shortest_path(a, "AML.M0006", "AML.TA0002") == q.shortest_path(b, "AML.M0006", "AML.TA0002")
    have = ["AML.M0003", "AML.M0015"]
    assert coverage.compute(a, have) == coverage.compute(b, have)
    assert coverage.recommend(a, have, top=5) == coverage.recommend(b, have, top=5)
    suggestions = []
    for kb in (a, b):
        with pytest.raises(q.NotFound) as e:
            q.resolve(kb, "Black-Box Transfr")
        suggestions.append(e.value.suggestions)
    assert suggestions[0] == suggestions[1] and suggestions[0]


def test_to_networkx_is_a_copy(bundled_kb):
    import networkx as nx

    g = bundled_kb.to_networkx()
    assert isinstance(g, nx.MultiDiGraph)
    assert nx_facts(g) == nx_facts(bundled_kb.graph)
    g.nodes["AML.M0003"]["name"] = "changed"
    g.remove_node("AML.T0043")
    assert bundled_kb.graph.nodes["AML.M0003"]["name"] != "changed" and "AML.T0043" in bundled_kb


COMMANDS = [
    ["mitigations", "AML.T0043.002", "--rollup"], ["techniques", "AML.M0003"], ["tactics"], ["matrix", "--sub"],
    ["search", "poison"], ["case-studies", "AML.T0043.002"], ["path", "AML.M0006", "AML.CS0000"],
    ["show", "AML.T0043.002", "AML.M0006", "AML.TA0001", "AML.CS0000"],
    ["coverage", "--have", "AML.M0003"], ["recommend", "--have", "AML.M0003"],
]


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_cli_output_identical_warm_and_cold(cache_home, monkeypatch, fmt):
    for command in COMMANDS:
        monkeypatch.setenv("ATLASKB_NO_CACHE", "1")
        cold = run_cli(*command, "--format", fmt)
        monkeypatch.delenv("ATLASKB_NO_CACHE")
        run_cli("tactics")  # fills the cache
        assert cache.get(cache.cache_key(default_sources())) is not None
        warm = run_cli(*command, "--format", fmt)
        assert cold == warm, command
        assert cold[0] == 0


def test_lint_and_import_answer_alike_warm_and_cold(cache_home, monkeypatch, tmp_path, atlas_yaml_56):
    """lint and import load through `atlaskb.load` too: from the cache, lint still sees
    which side stated each link (`declared`, `page_source`) and import writes the same vault."""
    import filecmp

    vaults = [str(FIXTURES / "vault_v2"), str(FIXTURES / "vault_defects")]
    results = []
    for state in ("cold", "warm", "warm"):
        if state == "cold":
            monkeypatch.setenv("ATLASKB_NO_CACHE", "1")
        else:
            monkeypatch.delenv("ATLASKB_NO_CACHE", raising=False)
        out = tmp_path / f"vault-{len(results)}"
        lints = [run_cli("--source", v, "lint", "--format", "json") for v in vaults]
        code, _, err = run_cli("import", "atlas-yaml", str(atlas_yaml_56), "--out", str(out), "--facts-only")
        results.append((lints, code, err.replace(str(out), "OUT"), out))
    assert all(cache.get(cache.cache_key([v])) is not None for v in vaults)  # the warm runs had one
    lints, code, err, first = results[0]
    assert [c for c, _, _ in lints] == [0, 1] and code == 0
    assert '"one-sided"' in lints[0][1] and '"subtechnique-cycle"' in lints[1][1]
    for other in results[1:]:
        assert other[:3] == (lints, code, err)
        cmp = filecmp.dircmp(first, other[3])
        assert not (cmp.diff_files or cmp.left_only or cmp.right_only)


def test_query_path_does_not_import_networkx(cache_home):
    """Why the graph is our own type (`atlaskb.graph`): a one-shot query from the cache
    never imports networkx (nor rich or yaml), checked in a real process (timing is for
    bench/)."""
    import subprocess
    import sys

    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home.parent))
    code = ("import sys\nfrom atlaskb.cli import main\n"
            "try:\n    main(['mitigations', 'AML.T0043.002'])\nexcept SystemExit:\n    pass\n"
            "print('NX' if 'networkx' in sys.modules else 'NO-NX', 'RICH' if 'rich' in sys.modules else 'NO-RICH',"
            " 'YAML' if 'yaml' in sys.modules else 'NO-YAML')")
    # first run fills the cache (racy rule off is per-process, the bundled vault is old anyway)
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "NO-NX NO-RICH NO-YAML"
