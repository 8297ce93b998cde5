"""Member architectures: diversity is the point of an ensemble defense.

Members differ in family (ReLU MLP, tanh MLP, small conv net), depth and width, so that
their decision boundaries, and so their adversarial directions, differ. The families are
also the labels the model-family fingerprinting attack (AML.T0014) tries to recover.
"""

from __future__ import annotations

import numpy as np

from atlaskb.engine.network import Network, convnet, mlp

FAMILIES = ("mlp-relu", "mlp-tanh", "conv")


def member_specs(image: tuple[int, int, int]) -> list[dict]:
    """The defended ensemble's members, in order. A conv member is included when the data
    can be viewed as images of at least 4x4."""
    specs = [
        {"family": "mlp-relu", "hidden": (128,)},
        {"family": "mlp-tanh", "hidden": (96,)},
        {"family": "mlp-relu", "hidden": (64, 64)},
        {"family": "mlp-tanh", "hidden": (48, 48)},
    ]
    if image[1] >= 4 and image[2] >= 4:
        specs.append({"family": "conv", "channels": 8})
    else:
        specs.append({"family": "mlp-relu", "hidden": (32, 32, 32)})
    return specs


BASELINE_SPEC = {"family": "mlp-relu", "hidden": (128,)}
SURROGATE_SPEC = {"family": "mlp-relu", "hidden": (100,)}


def build(spec: dict, n_in: int, n_out: int, image: tuple[int, int, int],
          rng: np.random.Generator) -> Network:
    """A freshly initialised network from a spec dict (see `member_specs`)."""
    if spec["family"] == "conv":
        return convnet(image, n_out, rng, spec.get("channels", 8))
    act = spec["family"].split("-", 1)[1]
    return mlp(n_in, tuple(spec["hidden"]), n_out, act, rng, spec["family"])
