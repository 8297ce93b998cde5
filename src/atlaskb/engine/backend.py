"""The one interface that models, losses, training and attacks are written against.

A backend owns arrays (numpy arrays or torch tensors on a device) and runs networks:
`forward` evaluates several networks on one input and records what `backward` needs;
`backward` turns gradients of the logits into gradients of the input and/or weights.
numpy derives those by hand, torch uses autograd; everything above this layer
(losses, Adam, PGD, black-box searches) is backend-agnostic code using only the small
set of array operations declared here plus Python's arithmetic operators.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from atlaskb.engine.network import Network


@dataclass
class Bound:
    """A network whose weights live in a backend (arrays of that backend, on its device)."""

    net: Network
    params: list  # one dict per layer: name -> backend array
    trainable: bool = False

    @property
    def layers(self):
        return self.net.layers

    def to_network(self, backend: "Backend") -> Network:
        """Weights back into a plain (numpy) Network."""
        params = [{k: backend.to_numpy(v).copy() for k, v in p.items()} for p in self.params]
        return Network(self.net.layers, params, self.net.family, dict(self.net.meta))


class Backend(ABC):
    """Arrays plus forward/backward for the layer types in `engine.network`.

    Arrays of a backend support Python arithmetic (+ - * / **, comparisons, slicing,
    `.shape`, `.reshape`); everything else goes through the methods below. Inputs to
    `forward` are (N, n_in) arrays of this backend (use `asarray`); integer labels too.
    """

    name: str = "abstract"
    device: str = "cpu"
    dtype: str = "float32"

    # ---- arrays -------------------------------------------------------------------
    @abstractmethod
    def asarray(self, a, dtype: str | None = None): ...

    @abstractmethod
    def to_numpy(self, a) -> np.ndarray: ...

    @abstractmethod
    def exp(self, a): ...

    @abstractmethod
    def log(self, a): ...

    @abstractmethod
    def sqrt(self, a): ...

    @abstractmethod
    def sign(self, a): ...

    @abstractmethod
    def clip(self, a, lo, hi):
        """Elementwise clip; `lo`/`hi` are scalars or arrays of a's shape."""

    @abstractmethod
    def where(self, cond, a, b): ...

    @abstractmethod
    def maximum(self, a, b): ...

    @abstractmethod
    def minimum(self, a, b): ...

    @abstractmethod
    def sum(self, a, axis=None, keepdims: bool = False): ...

    @abstractmethod
    def amax(self, a, axis=None, keepdims: bool = False): ...

    @abstractmethod
    def argmax(self, a, axis: int = -1): ...

    @abstractmethod
    def one_hot(self, y, k: int): ...

    @abstractmethod
    def stack(self, arrays, axis: int = 0): ...

    def take_rows(self, a, idx):
        """Rows `idx` (an integer numpy array or backend array) of `a`: a minibatch."""
        return a[idx]

    def zeros(self, shape, dtype: str | None = None):
        """A zero array of the backend's float dtype (or `dtype`)."""
        return self.asarray(np.zeros(shape, dtype=dtype or self.dtype))

    def item(self, a) -> float:
        """A 0-d / 1-element array as a Python float."""
        return float(self.to_numpy(a).reshape(-1)[0])

    def abs(self, a):
        return abs(a)

    def log_softmax(self, z):
        z = z - self.amax(z, axis=1, keepdims=True)
        return z - self.log(self.sum(self.exp(z), axis=1, keepdims=True))

    def softmax(self, z):
        z = self.exp(z - self.amax(z, axis=1, keepdims=True))
        return z / self.sum(z, axis=1, keepdims=True)

    def no_grad(self):
        """Context for in-place weight updates (torch needs it; numpy does not)."""
        return contextlib.nullcontext()

    def info(self) -> dict:
        """What a results file should record about this backend (versions, device, threads)."""
        return {"backend": self.name, "device": self.device, "dtype": self.dtype,
                "numpy": np.__version__}

    def synchronize(self) -> None:
        """Wait for queued device work (for honest timings on a GPU)."""

    # ---- networks -----------------------------------------------------------------
    @abstractmethod
    def bind(self, net: Network, trainable: bool = False) -> Bound:
        """Copy a network's weights into this backend."""

    @abstractmethod
    def forward(self, bounds: list[Bound], x, wrt: tuple[str, ...] = ()):
        """Logits of each network for input `x`.

        Returns `(logits_list, tape)`; `wrt` names what `backward` will be asked for:
        "input" and/or "params". With `wrt=()` nothing is recorded (inference only).
        """

    @abstractmethod
    def backward(self, tape, grad_logits: list):
        """Given dLoss/dLogits for each network, return `(grad_x, grad_params)`:
        grad_x summed over the networks (None unless "input" was recorded) and one
        list of per-layer dicts per network (None unless "params" was recorded)."""

    def logits(self, bounds: list[Bound], x) -> list:
        return self.forward(bounds, x)[0]

    # ---- optimiser ----------------------------------------------------------------
    def adam_step(self, params: list, grads: list, state: dict, lr: float,
                  betas=(0.9, 0.999), eps: float = 1e-8) -> None:
        """One Adam update, in place, over flat lists of weight arrays and gradients.

        The bias corrections are folded into the step size (Kingma & Ba's efficient form,
        eps added to sqrt(v)); the torch backend computes the same formula with fused kernels,
        so both backends follow the same trajectory for the same gradients.
        """
        b1, b2 = betas
        state["t"] = t = state.get("t", 0) + 1
        if "m" not in state:
            state["m"] = [g * 0 for g in grads]
            state["v"] = [g * 0 for g in grads]
        step = lr * (1 - b2**t) ** 0.5 / (1 - b1**t)
        with self.no_grad():
            for p, g, m, v in zip(params, grads, state["m"], state["v"]):
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * (g * g)
                p -= step * m / (self.sqrt(v) + eps)


def flat_params(bounds: list[Bound]) -> list:
    """Every weight array of `bounds`, in a fixed order."""
    return [p[k] for b in bounds for p in b.params for k in sorted(p)]


def flat_grads(grads: list) -> list:
    """Gradients from `backward`, in the order of `flat_params`."""
    return [g[k] for per_net in grads for g in per_net for k in sorted(g)]
