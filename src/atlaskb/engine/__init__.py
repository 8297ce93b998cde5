"""`atlaskb.engine`: a tiny array/network engine with two interchangeable backends.

Models, losses, training and attacks are written once against `Backend`; `numpy` is always
installed and differentiates by hand, `torch` (the optional `atlaskb[torch]` extra) uses
autograd and can run on a CUDA device. Torch is imported only when the torch backend is
asked for, so `import atlaskb.engine` stays cheap and works without it.

    from atlaskb.engine import get_backend, mlp
    be = get_backend("torch", device="auto")
"""

from __future__ import annotations

from atlaskb.engine.backend import Backend, Bound, flat_grads, flat_params
from atlaskb.engine.network import (
    Act,
    AvgPool2,
    Conv2d,
    Dense,
    Flatten,
    Network,
    ToImage,
    convnet,
    mlp,
)
from atlaskb.errors import UsageError

BACKENDS = ("numpy", "torch")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "float64")

TORCH_MISSING = ("the torch backend needs PyTorch, which is not installed; "
                 "install it with: pip install 'atlaskb[torch]'  (or use --backend numpy)")

__all__ = [
    "Act", "AvgPool2", "Backend", "Bound", "Conv2d", "Dense", "Flatten", "Network", "ToImage",
    "BACKENDS", "DEVICES", "DTYPES", "convnet", "cuda_available", "flat_grads", "flat_params",
    "get_backend", "mlp", "resolve_device", "torch_available",
]


def resolve_device(requested: str, cuda_available: bool) -> str:
    """The device a run will use, decided without touching any hardware (testable).

    "auto" picks "cuda" when a CUDA device is available and "cpu" otherwise; "cpu" is always
    honoured; "cuda" (or "cuda:N") without CUDA is a usage error rather than a silent fallback,
    because a user who asked for the GPU must not get CPU timings labelled as GPU ones.
    """
    req = (requested or "auto").strip().lower()
    if req == "auto":
        return "cuda" if cuda_available else "cpu"
    if req == "cpu":
        return "cpu"
    if req == "cuda" or (req.startswith("cuda:") and req[5:].isdigit()):
        if not cuda_available:
            raise UsageError(f"--device {requested} was requested but no CUDA device is available "
                             "(torch.cuda.is_available() is False); use --device cpu or --device auto")
        return req
    raise UsageError(f"unknown device {requested!r}; choose one of: auto, cpu, cuda")


def torch_available() -> bool:
    """Whether PyTorch can be imported (imports it if so)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def cuda_available() -> bool:
    """Whether the torch backend could run on CUDA here (False when torch is missing)."""
    if not torch_available():
        return False
    import torch

    return bool(torch.cuda.is_available())


def get_backend(name: str = "numpy", device: str = "auto", dtype: str = "float32") -> Backend:
    """A backend by name: "numpy" (CPU only) or "torch" (CPU or CUDA, see `resolve_device`).

    Errors the user can fix (unknown name, CUDA asked of numpy or of a machine without it,
    torch not installed) raise `atlaskb.errors.UsageError` with the fix in the message.
    """
    name = (name or "numpy").strip().lower()
    if dtype not in DTYPES:
        raise UsageError(f"unknown dtype {dtype!r}; choose one of: {', '.join(DTYPES)}")
    if name == "numpy":
        dev = (device or "auto").strip().lower()
        if dev not in ("auto", "cpu"):
            resolve_device(dev, cuda_available=True)  # still reject nonsense names first
            raise UsageError(f"the numpy backend runs on the CPU only (--device {device}); "
                             "use --backend torch for a CUDA device")
        from atlaskb.engine.numpy_backend import NumpyBackend

        return NumpyBackend(dtype=dtype)
    if name == "torch":
        try:
            import torch
        except ImportError:
            raise UsageError(TORCH_MISSING) from None
        resolved = resolve_device(device, bool(torch.cuda.is_available()))
        from atlaskb.engine.torch_backend import TorchBackend

        return TorchBackend(device=resolved, dtype=dtype)
    raise UsageError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
