"""The torch backend (optional extra): the same layers, differentiated by autograd,
on the CPU or a CUDA device.

All randomness stays in numpy (callers draw, then `asarray`), so both backends see the
same numbers for the same seeds.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from atlaskb.engine.backend import Backend, Bound
from atlaskb.engine.network import Act, AvgPool2, Conv2d, Dense, Flatten, Network, ToImage

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, device: str = "cpu", dtype: str = "float32"):
        self.device = device
        self.dtype = dtype
        self._dt = _DTYPES[dtype]
        self._dev = torch.device(device)
        if self._dev.type == "cuda":
            # Deterministic kernels where torch offers them (convolution backward).
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False

    # ---- arrays -------------------------------------------------------------------
    def asarray(self, a, dtype=None):
        if isinstance(a, torch.Tensor):
            t = a
        else:
            arr = np.ascontiguousarray(a)
            if not arr.flags.writeable:
                arr = arr.copy()
            t = torch.from_numpy(arr)
        if dtype is not None:
            return t.to(self._dev, _DTYPES.get(dtype, getattr(torch, dtype)))
        if t.is_floating_point():
            return t.to(self._dev, self._dt)
        return t.to(self._dev)

    def to_numpy(self, a):
        if isinstance(a, torch.Tensor):
            return a.detach().cpu().numpy()
        return np.asarray(a)

    exp = staticmethod(torch.exp)
    log = staticmethod(torch.log)
    sqrt = staticmethod(torch.sqrt)
    sign = staticmethod(torch.sign)

    def where(self, cond, a, b):
        return torch.where(cond, a, b)

    def maximum(self, a, b):
        return torch.maximum(a, b) if isinstance(b, torch.Tensor) else torch.clamp(a, min=b)

    def minimum(self, a, b):
        return torch.minimum(a, b) if isinstance(b, torch.Tensor) else torch.clamp(a, max=b)

    def clip(self, a, lo, hi):
        return torch.clamp(a, min=lo, max=hi)

    def sum(self, a, axis=None, keepdims=False):
        return a.sum() if axis is None else a.sum(dim=axis, keepdim=keepdims)

    def amax(self, a, axis=None, keepdims=False):
        return a.max() if axis is None else a.amax(dim=axis, keepdim=keepdims)

    def argmax(self, a, axis=-1):
        return torch.argmax(a, dim=axis)

    def one_hot(self, y, k):
        return F.one_hot(y, k).to(self._dt)

    def stack(self, arrays, axis=0):
        return torch.stack(arrays, dim=axis)

    def take_rows(self, a, idx):
        if not isinstance(idx, torch.Tensor):
            idx = torch.from_numpy(np.asarray(idx, dtype=np.int64))
        return a[idx.to(a.device)]

    def abs(self, a):
        return torch.abs(a)

    def log_softmax(self, z):
        return torch.log_softmax(z, dim=1)

    def softmax(self, z):
        return torch.softmax(z, dim=1)

    def no_grad(self):
        return torch.no_grad()

    def info(self):
        out = super().info()
        out.update(torch=torch.__version__, threads=torch.get_num_threads())
        if self._dev.type == "cuda":
            out["cuda_device"] = torch.cuda.get_device_name(self._dev)
            out["cuda_version"] = torch.version.cuda
        return out

    def synchronize(self):
        if self._dev.type == "cuda":
            torch.cuda.synchronize(self._dev)

    # ---- networks -----------------------------------------------------------------
    def bind(self, net: Network, trainable: bool = False) -> Bound:
        params = []
        for p in net.params:
            d = {}
            for k, v in p.items():
                t = torch.from_numpy(np.array(v)).to(self._dev, self._dt)
                d[k] = t.requires_grad_(trainable)
            params.append(d)
        return Bound(net, params, trainable)

    def forward(self, bounds, x, wrt=()):
        x = self.asarray(x)
        if not wrt:
            with torch.no_grad():
                return [_run(b, x) for b in bounds], None
        if "input" in wrt:
            x = x.detach().requires_grad_(True)
        if "params" in wrt:
            for b in bounds:
                for p in b.params:
                    for v in p.values():
                        v.requires_grad_(True)
        outs = [_run(b, x) for b in bounds]
        return outs, (bounds, x, outs, tuple(wrt))

    def backward(self, tape, grad_logits):
        if tape is None:
            raise ValueError("forward was run without wrt=...; nothing recorded to differentiate")
        bounds, x, outs, wrt = tape
        inputs = [x] if "input" in wrt else []
        keys = []
        if "params" in wrt:
            for bi, b in enumerate(bounds):
                for li, p in enumerate(b.params):
                    for k in sorted(p):
                        keys.append((bi, li, k))
                        inputs.append(p[k])
        grad_logits = [self.asarray(g) for g in grad_logits]
        grads = torch.autograd.grad(outs, inputs, grad_outputs=grad_logits, allow_unused=True)
        gx = grads[0] if "input" in wrt else None
        if "params" not in wrt:
            return gx, None
        per = [[{} for _ in b.params] for b in bounds]
        offset = 1 if "input" in wrt else 0
        for (bi, li, k), g in zip(keys, grads[offset:]):
            per[bi][li][k] = g if g is not None else torch.zeros_like(bounds[bi].params[li][k])
        return gx, per

    def adam_step(self, params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8):
        """Adam with torch's multi-tensor (`_foreach`) kernels: few launches per step on a GPU."""
        b1, b2 = betas
        state["t"] = t = state.get("t", 0) + 1
        if "m" not in state:
            state["m"] = [torch.zeros_like(g) for g in grads]
            state["v"] = [torch.zeros_like(g) for g in grads]
        step = lr * (1 - b2**t) ** 0.5 / (1 - b1**t)
        m, v = state["m"], state["v"]
        with torch.no_grad():
            torch._foreach_mul_(m, b1)
            torch._foreach_add_(m, grads, alpha=1 - b1)
            torch._foreach_mul_(v, b2)
            torch._foreach_addcmul_(v, grads, grads, value=1 - b2)
            denom = torch._foreach_sqrt(v)
            torch._foreach_add_(denom, eps)
            torch._foreach_addcdiv_(params, m, denom, value=-step)


def _run(bound: Bound, x):
    h = x
    for layer, p in zip(bound.layers, bound.params):
        if isinstance(layer, Dense):
            h = torch.addmm(p["b"], h, p["W"])
        elif isinstance(layer, Act):
            h = torch.relu(h) if layer.kind == "relu" else torch.tanh(h)
        elif isinstance(layer, Conv2d):
            h = F.conv2d(h, p["W"], p["b"], padding=layer.k // 2)
        elif isinstance(layer, AvgPool2):
            h = F.avg_pool2d(h, 2)
        elif isinstance(layer, ToImage):
            h = h.reshape(h.shape[0], layer.channels, layer.height, layer.width)
        elif isinstance(layer, Flatten):
            h = h.reshape(h.shape[0], -1)
        else:  # pragma: no cover - guarded by network.LAYER_TYPES
            raise ValueError(f"unknown layer {layer!r}")
    return h
