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
