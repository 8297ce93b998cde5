"""`atlaskb.sources`: which reader a file goes to. A file is recognised by its content, not
its name or key order: a bundle or release re-dumped with sorted keys is still one."""

from __future__ import annotations

import json

import yaml

import atlaskb
from atlaskb.sources import detect_kind
from conftest import run_cli, tiny_release, uses_bundle


def test_sorted_key_bundle_is_detected_as_stix(tmp_path):
    bundle = uses_bundle([{"step": 1, "tactic": None}])
    bundle["objects"][0]["description"] = "padding " * 1000  # pushes "type": "bundle" past the sniffed head
    path = tmp_path / "sorted.json"
    path.write_text(json.dumps(bundle, sort_keys=True, indent=2), encoding="utf-8")
    assert detect_kind(str(path)) == "stix"
    kb = atlaskb.load(str(path))
    assert kb.graph.has_edge("AML.CS0001", "AML.T0001", key="uses")


def test_json_that_is_not_a_bundle_is_an_error_not_a_page(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}\n', encoding="utf-8")
    code, _, err = run_cli("--source", str(path), "lint")
    assert code == 1 and "bad-stix" in err + _


def test_release_redumped_with_sorted_keys_is_detected(tmp_path):
    """yaml.safe_dump sorts keys: `case-studies:` comes first, `matrices:` after 4 KB."""
    release = yaml.safe_load(open(tiny_release(tmp_path), encoding="utf-8"))
    release["case-studies"] = [{"id": f"AML.CS{i:04d}", "name": f"Study {i}", "summary": "padding " * 40,
                                "procedure": [{"tactic": "AML.TA0001", "technique": "AML.T0001",
                                               "description": "x"}]} for i in range(20)]
    path = tmp_path / "sorted.yaml"
    path.write_text(yaml.safe_dump(release), encoding="utf-8")
    assert path.read_text(encoding="utf-8").startswith("case-studies:")
    assert detect_kind(str(path)) == "atlas-yaml"
    kb = atlaskb.load(str(path))
    assert kb.graph.has_edge("AML.CS0019", "AML.T0001", key="uses")
