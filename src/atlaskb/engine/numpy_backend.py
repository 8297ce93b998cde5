"""The numpy backend: always installed, CPU only, gradients derived by hand.

Each layer type has a forward that returns what its backward needs, and a backward that
maps dLoss/dOutput to dLoss/dInput plus (only when asked) weight gradients. Speed comes
from keeping every layer a few whole-batch BLAS calls or vectorised ufuncs (no Python loop
over samples), from skipping weight gradients during attacks (input gradient only), and
from working in place on intermediate arrays that nobody else holds. Convolutions use
im2col built from a strided sliding-window view (one copy) and a k×k shifted-add col2im.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from atlaskb.engine.backend import Backend, Bound
from atlaskb.engine.network import Act, AvgPool2, Conv2d, Dense, Flatten, Network, ToImage

# Layers whose forward output is a fresh array that is not kept in any cache, so the next
# layer may overwrite it; and whose backward returns a fresh array likewise.
_FRESH = (Dense, Conv2d, AvgPool2)


class NumpyBackend(Backend):
    name = "numpy"

    def __init__(self, dtype: str = "float32"):
        self.device = "cpu"
        self.dtype = dtype
        self._dt = np.dtype(dtype)

    # ---- arrays -------------------------------------------------------------------
    def asarray(self, a, dtype=None):
        if dtype:
            return np.asarray(a, dtype=np.dtype(dtype))
        a = np.asarray(a)
        return a.astype(self._dt, copy=False) if a.dtype.kind == "f" else a

    def to_numpy(self, a):
        return np.asarray(a)

    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sqrt = staticmethod(np.sqrt)
    sign = staticmethod(np.sign)
    where = staticmethod(np.where)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)

    def clip(self, a, lo, hi):
        return np.minimum(np.maximum(a, lo), hi)

    def sum(self, a, axis=None, keepdims=False):
        return np.sum(a, axis=axis, keepdims=keepdims)

    def amax(self, a, axis=None, keepdims=False):
        return np.max(a, axis=axis, keepdims=keepdims)

    def argmax(self, a, axis=-1):
        return np.argmax(a, axis=axis)

    def one_hot(self, y, k):
        out = np.zeros((len(y), k), self._dt)
        out[np.arange(len(y)), y] = 1
        return out

    def stack(self, arrays, axis=0):
        return np.stack(arrays, axis=axis)

    def abs(self, a):
        return np.abs(a)

    def info(self):
        out = super().info()
        try:
            from threadpoolctl import threadpool_info

            out["blas"] = [{"api": p.get("internal_api"), "threads": p.get("num_threads")}
                           for p in threadpool_info() if p.get("user_api") == "blas"]
        except ImportError:  # threadpoolctl comes with scikit-learn; tolerate its absence
            pass
        return out

    # ---- networks -----------------------------------------------------------------
    def bind(self, net: Network, trainable: bool = False) -> Bound:
        params = [{k: np.array(v, dtype=self._dt) for k, v in p.items()} for p in net.params]
        return Bound(net, params, trainable)

    def forward(self, bounds, x, wrt=()):
        keep = bool(wrt)
        x = self.asarray(x)
        outs, caches = [], []
        for b in bounds:
            h, cache, prev = x, [], None
            for layer, p in zip(b.layers, b.params):
                h, c = _FORWARD[type(layer)](layer, p, h, keep, isinstance(prev, _FRESH))
                cache.append(c)
                prev = layer
            outs.append(h)
            caches.append(cache)
        return outs, (bounds, caches, tuple(wrt))

    def backward(self, tape, grad_logits):
        bounds, caches, wrt = tape
        if not wrt:
            raise ValueError("forward was run without wrt=...; nothing recorded to differentiate")
        want_input, want_params = "input" in wrt, "params" in wrt
        gx_total, n_added, all_grads = None, 0, []
        for b, cache, g in zip(bounds, caches, grad_logits):
            g = self.asarray(g)
            layers = b.layers
            grads = [{} for _ in layers]
            for i in range(len(layers) - 1, -1, -1):
                need_input = i > 0 or want_input
                inplace = i < len(layers) - 1 and isinstance(layers[i + 1], _FRESH)
                g, grads[i] = _BACKWARD[type(layers[i])](layers[i], b.params[i], cache[i], g,
                                                         need_input, want_params, inplace)
            if want_input:
                if gx_total is None:
                    gx_total = g
                elif n_added == 1:
                    gx_total = gx_total + g  # first one may alias a caller's array
                else:
                    gx_total += g
                n_added += 1
            all_grads.append(grads)
        return gx_total, (all_grads if want_params else None)


# ---- layers -----------------------------------------------------------------------
# forward(layer, params, x, keep, inplace) -> (output, cache)
# backward(layer, params, cache, g, need_input, need_params, inplace) -> (grad_in, grads)

def _dense_fwd(layer, p, x, keep, inplace):
    out = x @ p["W"]
    out += p["b"]
    return out, (x if keep else None)


def _dense_bwd(layer, p, x, g, need_input, need_params, inplace):
    grads = {"W": x.T @ g, "b": g.sum(axis=0)} if need_params else {}
    return (g @ p["W"].T if need_input else None), grads


def _act_fwd(layer, p, x, keep, inplace):
    out = x if inplace else None
    if layer.kind == "relu":
        y = np.maximum(x, 0, out=out)
    elif layer.kind == "tanh":
        y = np.tanh(x, out=out)
    else:
        raise ValueError(f"unknown activation {layer.kind!r}")
    return y, (y if keep else None)


def _act_bwd(layer, p, y, g, need_input, need_params, inplace):
    out = g if inplace else None
    if layer.kind == "relu":
        return np.multiply(g, y > 0, out=out), {}
    d = y * y
    np.subtract(1, d, out=d)
    return np.multiply(g, d, out=out), {}


def _to_image_fwd(layer, p, x, keep, inplace):
    return x.reshape(x.shape[0], layer.channels, layer.height, layer.width), x.shape


def _flatten_fwd(layer, p, x, keep, inplace):
    return x.reshape(x.shape[0], -1), x.shape


def _reshape_bwd(layer, p, shape, g, need_input, need_params, inplace):
    return g.reshape(shape), {}


def _im2col(x, k):
    """(N, C, H, W) -> (N*H*W, C*k*k) patches with zero padding k//2 (a single copy)."""
    n, c, h, w = x.shape
    pad = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(xp, (k, k), axis=(2, 3))  # (N, C, H, W, k, k), a view
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * w, c * k * k)


def _conv_fwd(layer, p, x, keep, inplace):
    n, _, h, w = x.shape
    cols = _im2col(x, layer.k)
    out = cols @ p["W"].reshape(layer.c_out, -1).T
    out += p["b"]
    out = out.reshape(n, h, w, layer.c_out).transpose(0, 3, 1, 2)
    return out, ((cols, x.shape) if keep else None)


def _conv_bwd(layer, p, cache, g, need_input, need_params, inplace):
    cols, (n, c, h, w) = cache
    k, pad = layer.k, layer.k // 2
    gt = g.transpose(0, 2, 3, 1).reshape(-1, layer.c_out)
    grads = {}
    if need_params:
        grads = {"W": (gt.T @ cols).reshape(p["W"].shape), "b": gt.sum(axis=0)}
    if not need_input:
        return None, grads
    gcols = (gt @ p["W"].reshape(layer.c_out, -1)).reshape(n, h, w, c, k, k)
    gxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), g.dtype)
    for i in range(k):
        for j in range(k):
            gxp[:, :, i:i + h, j:j + w] += gcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return gxp[:, :, pad:pad + h, pad:pad + w], grads


def _pool_fwd(layer, p, x, keep, inplace):
    n, c, h, w = x.shape
    h2, w2 = h // 2, w // 2
    out = x[:, :, :2 * h2, :2 * w2].reshape(n, c, h2, 2, w2, 2).mean(axis=(3, 5))
    return out, x.shape


def _pool_bwd(layer, p, shape, g, need_input, need_params, inplace):
    n, c, h, w = shape
    h2, w2 = g.shape[2], g.shape[3]
    up = np.broadcast_to((g * 0.25)[:, :, :, None, :, None], (n, c, h2, 2, w2, 2))
    up = up.reshape(n, c, 2 * h2, 2 * w2)
    if (2 * h2, 2 * w2) != (h, w):
        full = np.zeros(shape, g.dtype)
        full[:, :, :2 * h2, :2 * w2] = up
        up = full
    return up, {}


_FORWARD = {Dense: _dense_fwd, Act: _act_fwd, ToImage: _to_image_fwd, Flatten: _flatten_fwd,
            Conv2d: _conv_fwd, AvgPool2: _pool_fwd}
_BACKWARD = {Dense: _dense_bwd, Act: _act_bwd, ToImage: _reshape_bwd, Flatten: _reshape_bwd,
             Conv2d: _conv_bwd, AvgPool2: _pool_bwd}
