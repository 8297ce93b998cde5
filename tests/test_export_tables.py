"""`atlaskb export csv` and `export graphml` (atlaskb.export.tables): every node and edge,
pairs that match the raw release, a GraphML file networkx reads back."""

from __future__ import annotations

import csv
import io
import json

import networkx as nx

from atlaskb.model import id_sort_key
from conftest import run_cli


# -- CSV ----------------------------------------------------------------------------------------

def read_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_nodes_and_edges(bundled_kb):
    code, out, err = run_cli("export", "csv", "--what", "nodes")
    assert code == 0, err
    rows = read_csv(out)
    assert [r["id"] for r in rows] == sorted(bundled_kb.graph.nodes, key=id_sort_key)
    sub = next(r for r in rows if r["id"] == "AML.T0043.002")
    assert sub["parent"] == "AML.T0043"
    assert sub["tactics"] == "AML.TA0001"  # inherited from the parent
    code, out, _ = run_cli("export", "csv", "--what", "edges")
    rows = read_csv(out)
    assert len(rows) == bundled_kb.graph.number_of_edges()
    uses = [r for r in rows if r["type"] == "uses"]
    assert all("@AML.TA" in r["steps"] for r in uses)


def test_csv_mitigates_pairs_match_the_release(atlas_yaml_56, raw_release_56):
    path, data = atlas_yaml_56, raw_release_56
    code, out, err = run_cli("--source", str(path), "export", "csv", "--what", "mitigates")
    assert code == 0, err
    rows = read_csv(out)
    expected = {(m["id"], t["id"]) for m in data["matrices"][0]["mitigations"] for t in m["techniques"]}
    assert {(r["mitigation"], r["technique"]) for r in rows} == expected
    assert all(r["note"] for r in rows)  # the release has a note on every pair


# -- GraphML ------------------------------------------------------------------------------------

def test_graphml_reads_back_with_every_node_and_edge(bundled_kb, tmp_path):
    out = tmp_path / "atlas.graphml"
    code, stdout, err = run_cli("export", "graphml", "--out", str(out))
    assert code == 0, err
    assert stdout == ""
    g = nx.read_graphml(out, force_multigraph=True)
    assert g.number_of_nodes() == bundled_kb.graph.number_of_nodes()
    assert g.number_of_edges() == bundled_kb.graph.number_of_edges()
    assert g.nodes["AML.T0043"]["type"] == "technique"
    steps = [d["steps"] for _, _, d in g.edges(data=True) if d["type"] == "uses"]
    assert all(isinstance(json.loads(s), list) for s in steps)
    category = g.nodes["AML.M0000"].get("category")
    assert category is None or isinstance(json.loads(category), list)
