"""The engine package's entry points: device selection is predictable, unknown names are
usage errors, and importing the engine does not import torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from atlaskb.engine import get_backend, resolve_device
from atlaskb.errors import UsageError


# ---- device selection --------------------------------------------------------------------

@pytest.mark.parametrize("requested,cuda,expected", [
    ("auto", True, "cuda"), ("auto", False, "cpu"), ("cpu", True, "cpu"), ("cpu", False, "cpu"),
    ("cuda", True, "cuda"), ("CUDA", True, "cuda"), ("cuda:1", True, "cuda:1"), (None, False, "cpu"),
])
def test_resolve_device(requested, cuda, expected):
    assert resolve_device(requested, cuda) == expected


@pytest.mark.parametrize("requested", ["cuda", "cuda:0"])
def test_cuda_requested_without_cuda_is_a_usage_error(requested):
    with pytest.raises(UsageError, match="no CUDA device"):
        resolve_device(requested, False)


def test_unknown_names_are_usage_errors():
    for call in (lambda: resolve_device("tpu", True), lambda: get_backend("jax"),
                 lambda: get_backend("numpy", dtype="float16"),
                 lambda: get_backend("numpy", device="cuda")):
        with pytest.raises(UsageError):
            call()
    assert get_backend("numpy", device="auto").device == "cpu"


def test_torch_missing_tells_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(UsageError, match=r"pip install 'atlaskb\[torch\]'"):
        get_backend("torch")


def test_engine_import_does_not_import_torch():
    code = ("import sys, atlaskb.engine, atlaskb.engine.train; "
            "b = atlaskb.engine.get_backend('numpy'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_torch_backend_device_follows_resolution():
    torch = pytest.importorskip("torch")
    be = get_backend("torch", device="auto")
    assert be.device == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA device"):
            get_backend("torch", device="cuda")
