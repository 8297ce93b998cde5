"""The numpy backend: hand-derived gradients are right (finite differences, float64) and
it reports what ran for provenance."""

from __future__ import annotations

import numpy as np
import pytest

from atlaskb.engine import get_backend
from atlaskb.engine import train as T
from engine_support import fd_check, make_nets, random_data, randomize_biases


# ---- numpy gradients vs finite differences (float64) --------------------------------------

@pytest.mark.parametrize("kind", ["relu", "tanh", "conv"])
def test_numpy_weight_and_input_gradients_match_finite_differences(kind):
    be = get_backend("numpy", dtype="float64")
    net = randomize_biases(make_nets()[kind], 5)
    b = be.bind(net, trainable=True)
    x, y = random_data()

    def loss():
        return float(T.softmax_cross_entropy(be, be.logits([b], x)[0], y)[0])

    outs, tape = be.forward([b], x, wrt=("input", "params"))
    _, g = T.softmax_cross_entropy(be, outs[0], y)
    gx, gp = be.backward(tape, [g])
    fd_check(loss, x, gx)
    for li, p in enumerate(b.params):
        for k, arr in p.items():
            fd_check(loss, arr, gp[0][li][k], seed=li)


def test_backend_info_for_provenance():
    info = get_backend("numpy", dtype="float64").info()
    assert info["backend"] == "numpy" and info["device"] == "cpu" and info["dtype"] == "float64"
    assert info["numpy"] == np.__version__
