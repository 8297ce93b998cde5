"""Shared test fixtures: where the real ATLAS data lives, and small helpers.

Tests that need MITRE's releases or the seed pages use the `atlas_yaml_56`,
`atlas_yaml_54` and `seed_page` fixtures, which skip cleanly when ../shared is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ATLASKB_SHARED", REPO.parent / "shared"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_configure(config):
    """Keep the parsed-KB cache (atlaskb.cache) out of the user's home: every test run,
    and every process a test starts, gets its own empty cache folder."""
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="atlaskb-test-cache-")


def _shared_file(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not available (../shared is absent)")
    return path


@pytest.fixture
def atlas_yaml_56() -> Path:
    return _shared_file("atlas-data", "ATLAS-5.6.0.yaml")


@pytest.fixture(scope="session")
def raw_release_56() -> dict:
    """ATLAS-5.6.0.yaml parsed with plain YAML, not through atlaskb: independent facts to
    check atlaskb's answers against."""
    import yaml

    with open(_shared_file("atlas-data", "ATLAS-5.6.0.yaml"), encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.fixture
def atlas_yaml_54() -> Path:
    return _shared_file("atlas-data", "ATLAS-5.4.0.yaml")


@pytest.fixture
def seed_page() -> Path:
    return _shared_file("seeds", "000_00a7a571103b63bd.txt")


@pytest.fixture(scope="session")
def bundled_kb():
    """The bundled vault, loaded once per test session (read-only: do not mutate)."""
    import atlaskb

    return atlaskb.load()


def run_cli(*args: str, input: str | None = None):
    """Run `atlaskb ARGS` in process through the real entry point; returns
    (exit_code, stdout, stderr)."""
    from atlaskb.cli import main

    runner = CliRunner()
    with runner.isolation(input=input) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        stdout, stderr = out.getvalue(), err.getvalue()
    return code, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")


def run_cli_process(*args: str, cwd: str | None = None, input: str | None = None, env=None):
    """Run `python -m atlaskb ARGS` as a real process (for tests of exit codes and
    tracebacks exactly as a user sees them)."""
    proc = subprocess.run(
        [sys.executable, "-m", "atlaskb", *args], capture_output=True, text=True,
        cwd=cwd, input=input, env=env, timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def cli():
    return run_cli


# -- tiny hand-made inputs shared by several test files ---------------------------------------

def uses_bundle(steps) -> dict:
    """A STIX bundle of one technique, one case study and the `uses` link between them,
    whose step list is `steps` (as `x_atlaskb_steps`)."""
    ext = lambda i: [{"source_name": "mitre-atlas", "external_id": i}]  # noqa: E731
    return {"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "attack-pattern", "id": "attack-pattern--1", "name": "Tech", "external_references": ext("AML.T0001")},
        {"type": "campaign", "id": "campaign--1", "name": "Study", "external_references": ext("AML.CS0001")},
        {"type": "relationship", "id": "relationship--1", "relationship_type": "uses",
         "source_ref": "campaign--1", "target_ref": "attack-pattern--1", "x_atlaskb_steps": steps},
    ]}


def tiny_release(tmp_path) -> str:
    """An ATLAS.yaml release of one tactic and one technique; its path."""
    path = tmp_path / "ATLAS.yaml"
    path.write_text("id: ATLAS\nmatrices:\n- id: ATLAS\n  tactics:\n  - {id: AML.TA0001, name: Staging}\n"
                    "  techniques:\n  - {id: AML.T0001, name: T, tactics: [AML.TA0001]}\n  mitigations: []\n",
                    encoding="utf-8")
    return str(path)


@pytest.fixture
def nameless_vault(tmp_path):
    """A mitigation linking to a technique known only by its ID (so with no name)."""
    (tmp_path / "m.md").write_text(
        '---\ntitle: "ACME.M0005: Thing"\ntype: mitigation\n---\n# ACME.M0005: Thing\n\n'
        "## Techniques (1)\n\n- [[techniques/zz|ACME.T0009]] — x\n", encoding="utf-8")
    return str(tmp_path)
