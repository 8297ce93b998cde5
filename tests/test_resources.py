"""The wheel, not only an editable install, must carry data/ and templates/ and give a
working `atlaskb` that finds them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("atlaskb-*.whl")
    return path


def test_wheel_carries_the_bundled_vault_and_templates(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "atlaskb/_bundled/data/atlas/mitigations/use-ensemble-methods.md" in names
    assert any(n.startswith("atlaskb/_bundled/templates/") for n in names)
    assert "atlaskb/_bundled/templates/static/style.css" in names
    assert {"atlaskb/site/build.py", "atlaskb/engine/numpy_backend.py", "atlaskb/defenses/runner.py"} <= set(names)
    assert sum(n.startswith("atlaskb/_bundled/data/atlas/") and n.endswith(".md") for n in names) >= 278


def test_installed_wheel_runs_from_anywhere(wheel, tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import atlaskb, json, sys; kb = atlaskb.load(); "
            "from atlaskb.resources import templates_dir; "
            "print(json.dumps([atlaskb.__file__, len(kb), templates_dir()]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    module_file, count, templates = json.loads(proc.stdout)
    assert module_file.startswith(str(target))
    assert count == 278
    assert templates.startswith(str(target))
    proc = subprocess.run([sys.executable, "-m", "atlaskb", "lint"], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "atlaskb", "site", "build", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "index.html").is_file() and (tmp_path / "out" / "static" / "style.css").is_file()
