"""Networks as plain data: a tuple of layer specs plus numpy parameters.

Keeping the architecture backend-free means one model definition serves both backends
and can be saved to `.npz` (no pickles: the spec travels as a JSON string) or, when the
optional `safetensors` package is installed, to `.safetensors` (spec in the metadata).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

ACTIVATIONS = ("relu", "tanh")


@dataclass(frozen=True)
class Dense:
    """Affine layer y = x @ W + b, W of shape (n_in, n_out)."""

    n_in: int
    n_out: int


@dataclass(frozen=True)
class Act:
    """Elementwise activation: "relu" or "tanh"."""

    kind: str

    def __post_init__(self):
        if self.kind not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.kind!r}; choose one of {ACTIVATIONS}")


@dataclass(frozen=True)
class ToImage:
    """Flat (N, C*H*W) input viewed as (N, C, H, W) for convolutions."""

    channels: int
    height: int
    width: int


@dataclass(frozen=True)
class Conv2d:
    """k×k convolution, stride 1, zero padding k//2 (output keeps the input's size; k odd)."""

    c_in: int
    c_out: int
    k: int = 3

    def __post_init__(self):
        if self.k % 2 != 1:
            raise ValueError("Conv2d needs an odd kernel size (same-size output)")


@dataclass(frozen=True)
class AvgPool2:
    """2×2 average pooling, stride 2; an odd last row or column is dropped."""


@dataclass(frozen=True)
class Flatten:
    """(N, C, H, W) back to (N, C*H*W)."""


LAYER_TYPES = {cls.__name__: cls for cls in (Dense, Act, ToImage, Conv2d, AvgPool2, Flatten)}


def param_shapes(layer) -> dict[str, tuple[int, ...]]:
    """The weight arrays a layer owns and their shapes (used to validate loaded files)."""
    if isinstance(layer, Dense):
        return {"W": (layer.n_in, layer.n_out), "b": (layer.n_out,)}
    if isinstance(layer, Conv2d):
        return {"W": (layer.c_out, layer.c_in, layer.k, layer.k), "b": (layer.c_out,)}
    return {}


def init_params(layer, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He-style initial weights for one layer, drawn from `rng` (float32)."""
    if isinstance(layer, Dense):
        w = rng.normal(0.0, np.sqrt(2.0 / layer.n_in), size=(layer.n_in, layer.n_out))
        return {"W": w.astype(np.float32), "b": np.zeros(layer.n_out, np.float32)}
    if isinstance(layer, Conv2d):
        fan_in = layer.c_in * layer.k * layer.k
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(layer.c_out, layer.c_in, layer.k, layer.k))
        return {"W": w.astype(np.float32), "b": np.zeros(layer.c_out, np.float32)}
    return {}


def mlp(n_in: int, hidden: Sequence[int], n_out: int, act: str, rng: np.random.Generator,
        family: str | None = None) -> "Network":
    """A fully connected net: n_in -> hidden... -> n_out with `act` between layers, weights
    drawn from `rng` (the same generator state gives the same weights)."""
    layers, prev = [], n_in
    for h in hidden:
        layers += [Dense(prev, h), Act(act)]
        prev = h
    layers.append(Dense(prev, n_out))
    return Network.create(layers, rng, family or f"mlp-{act}",
                          {"hidden": list(hidden), "activation": act})


def convnet(image: tuple[int, int, int], n_out: int, rng: np.random.Generator,
            channels: int = 8) -> "Network":
    """conv3x3 -> relu -> avgpool2 -> dense on flat inputs viewed as `image` (C, H, W):
    small enough for the numpy backend on 8x8 digits, and structurally unlike an MLP
    (weight sharing, local receptive fields)."""
    c, h, w = image
    if h < 4 or w < 4:
        raise ValueError("the conv net needs images of at least 4x4")
    layers = [ToImage(c, h, w), Conv2d(c, channels, 3), Act("relu"), AvgPool2(), Flatten(),
              Dense(channels * (h // 2) * (w // 2), n_out)]
    return Network.create(layers, rng, "conv", {"channels": channels})


@dataclass
class Network:
    """An architecture (`layers`) with its weights (`params`, one dict per layer)."""

    layers: tuple
    params: list[dict[str, np.ndarray]]
    family: str = ""
    meta: dict = field(default_factory=dict)

    @classmethod
    def create(cls, layers, rng: np.random.Generator, family: str = "", meta: dict | None = None):
        layers = tuple(layers)
        return cls(layers, [init_params(layer, rng) for layer in layers], family, dict(meta or {}))

    @property
    def n_in(self) -> int:
        """Width of the flat input the network expects."""
        first = self.layers[0]
        if isinstance(first, Dense):
            return first.n_in
        if isinstance(first, ToImage):
            return first.channels * first.height * first.width
        raise ValueError("network does not start with Dense or ToImage")

    @property
    def n_out(self) -> int:
        """Number of logits (classes)."""
        for layer in reversed(self.layers):
            if isinstance(layer, Dense):
                return layer.n_out
        raise ValueError("network has no Dense layer")

    def astype(self, dtype) -> "Network":
        return Network(self.layers, [{k: v.astype(dtype) for k, v in p.items()} for p in self.params],
                       self.family, dict(self.meta))

    def copy(self) -> "Network":
        return Network(self.layers, [{k: v.copy() for k, v in p.items()} for p in self.params],
                       self.family, json.loads(json.dumps(self.meta)))

    def spec(self) -> dict:
        return {"format": "atlaskb-network/1", "family": self.family, "meta": self.meta,
                "layers": [{"type": type(layer).__name__, **asdict(layer)} for layer in self.layers]}

    def validate(self) -> None:
        """Raise ValueError unless every layer has exactly the weights its spec implies."""
        if len(self.params) != len(self.layers):
            raise ValueError(f"{len(self.layers)} layers but {len(self.params)} parameter groups")
        for i, (layer, p) in enumerate(zip(self.layers, self.params)):
            want = param_shapes(layer)
            got = {k: tuple(v.shape) for k, v in p.items()}
            if want != got:
                raise ValueError(f"layer {i} ({type(layer).__name__}): weights {got}, expected {want}")
            for k, v in p.items():
                if v.dtype.kind != "f":
                    raise ValueError(f"layer {i} weight {k} has non-float dtype {v.dtype}")

    def _arrays(self) -> dict[str, np.ndarray]:
        return {f"p{i}.{k}": np.ascontiguousarray(v) for i, p in enumerate(self.params)
                for k, v in p.items()}

    def save(self, path: str) -> None:
        """Write weights and spec atomically: `.safetensors` when the path says so (needs the
        `safetensors` package), otherwise `.npz` (numpy's zip of arrays; no object arrays)."""
        from atlaskb.fsutil import atomic_write

        spec = json.dumps(self.spec(), sort_keys=True)
        if str(path).endswith(".safetensors"):
            st = _safetensors()
            atomic_write(path, st.save(self._arrays(), metadata={"atlaskb_spec": spec}))
            return
        arrays = self._arrays()
        arrays["spec"] = np.array(spec)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write(path, buf.getvalue())

    @classmethod
    def load(cls, path: str) -> "Network":
        """Read a network saved by `save`. Never unpickles: a file holding pickled data (or
        object arrays) is refused with `AtlasError`, as is any file whose weights do not match
        its spec."""
        from atlaskb.errors import AtlasError

        path = str(path)
        if not os.path.isfile(path):
            raise AtlasError(f"model file not found: {path}")
        try:
            if path.endswith(".safetensors"):
                st = _safetensors()
                with open(path, "rb") as fh:
                    data = fh.read()
                arrays = dict(st.load(data))
                spec_text = _safetensors_metadata(data).get("atlaskb_spec")
                if spec_text is None:
                    raise KeyError("atlaskb_spec metadata")
            else:
                with np.load(path, allow_pickle=False) as z:
                    if not hasattr(z, "files"):
                        raise ValueError("a single array, not an .npz archive")
                    arrays = {k: z[k] for k in z.files}
                spec_arr = arrays.pop("spec")
                if spec_arr.dtype.kind != "U" or spec_arr.shape != ():
                    raise ValueError("spec is not a JSON string")
                spec_text = str(spec_arr)
            spec = json.loads(spec_text)
            layers = []
            for d in spec["layers"]:
                d = dict(d)
                layers.append(LAYER_TYPES[d.pop("type")](**d))
            layers = tuple(layers)
            params: list[dict] = [{} for _ in layers]
            for key, value in arrays.items():
                if not key.startswith("p") or "." not in key:
                    raise ValueError(f"unexpected array {key!r}")
                idx, name = key[1:].split(".", 1)
                params[int(idx)][name] = value
            net = cls(layers, params, str(spec.get("family", "")), dict(spec.get("meta", {})))
            net.validate()
        except AtlasError:
            raise
        except (ValueError, KeyError, OSError, TypeError, IndexError, EOFError) as e:
            raise AtlasError(f"{path}: not a model file written by atlaskb ({e})") from None
        return net


def _safetensors():
    """The optional safetensors numpy API, or a UsageError saying how to get it."""
    try:
        import safetensors.numpy as st
    except ImportError:
        from atlaskb.errors import UsageError

        raise UsageError("saving or loading .safetensors needs the 'safetensors' package "
                         "(pip install safetensors); .npz needs nothing extra") from None
    return st


def _safetensors_metadata(data: bytes) -> dict:
    """The `__metadata__` header of a safetensors file (plain JSON after an 8-byte length)."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    return dict(header.get("__metadata__") or {})
