"""Shared by the engine tests (not collected): small networks of every layer type, random
inputs, finite-difference checks and the digits data set."""

from __future__ import annotations

import numpy as np

from atlaskb.engine import Act, AvgPool2, Conv2d, Dense, Flatten, Network, ToImage, mlp


def make_nets():
    """One of each layer type: relu/tanh MLPs and a conv/pool net on an odd-sized image
    (so the pool's dropped last row/column is exercised)."""
    conv = Network.create([ToImage(2, 5, 7), Conv2d(2, 3, 3), Act("tanh"), AvgPool2(), Flatten(),
                           Dense(3 * 2 * 3, 4)], np.random.default_rng(3), "conv")
    return {
        "relu": mlp(70, (9, 7), 4, "relu", np.random.default_rng(1)),
        "tanh": mlp(70, (6,), 4, "tanh", np.random.default_rng(2)),
        "conv": conv,
    }


def random_data(n=6, d=70, k=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, size=(n, d)), rng.integers(0, k, size=n)


def randomize_biases(net, seed):
    """Non-zero biases so their gradients are tested too."""
    rng = np.random.default_rng(seed)
    for p in net.params:
        if "b" in p:
            p["b"] = rng.normal(0, 0.3, size=p["b"].shape).astype(np.float32)
    return net


def fd_check(f, x, analytic, n_coords=12, eps=1e-6, seed=0):
    """Central differences of scalar f at `n_coords` random coordinates of array x (in place)."""
    rng = np.random.default_rng(seed)
    flat = x.reshape(-1)
    gflat = np.asarray(analytic).reshape(-1)
    for i in rng.choice(flat.size, size=min(n_coords, flat.size), replace=False):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        num = (up - down) / (2 * eps)
        assert abs(num - gflat[i]) <= 1e-6 + 1e-5 * abs(num), (i, num, gflat[i])


def digits(n=600):
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data[:n] / 16.0).astype(np.float32), d.target[:n]
