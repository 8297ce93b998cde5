"""Training, inference and input gradients written once against `engine.Backend`.

These are the few pieces the experiments need on top of the engine's forward/backward;
they use only the Backend interface, so the same code runs on numpy and on torch (CPU or
CUDA). All randomness is drawn in numpy from generators passed in, so both backends see
the same batches and the same starting points for the same seed.
"""

from __future__ import annotations

import numpy as np

from atlaskb.engine.backend import Backend, Bound, flat_grads, flat_params
from atlaskb.engine.network import Network

BATCH_EVAL = 2048


def train(backend: Backend, net: Network, x: np.ndarray, y: np.ndarray, *, epochs: int,
          rng: np.random.Generator, batch: int = 64, lr: float = 3e-3,
          augment=None) -> Network:
    """Minibatch Adam on softmax cross-entropy; returns the trained (numpy) network.

    `augment(xb, yb, rng) -> (xb, yb)` runs on numpy batches before they reach the
    backend; it is how a compromised training tool slips poison into every batch
    without the caller's data changing.
    """
    bound = backend.bind(net, trainable=True)
    state: dict = {}
    n = len(y)
    k = int(net.layers[-1].n_out)
    for _ in range(epochs):
        perm = rng.permutation(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb, yb = x[idx], y[idx]
            if augment is not None:
                xb, yb = augment(xb, yb, rng)
            xt, yt = backend.asarray(xb), backend.asarray(yb.astype(np.int64))
            (z,), tape = backend.forward([bound], xt, wrt=("params",))
            g = (backend.softmax(z) - backend.one_hot(yt, k)) * (1.0 / len(yb))
            _, grads = backend.backward(tape, [g])
            backend.adam_step(flat_params([bound]), flat_grads(grads), state, lr)
    return bound.to_network(backend)


def member_probs(backend: Backend, bounds: list[Bound], x) -> list:
    """Softmax outputs of each network for a backend array `x` (no gradient recorded)."""
    return [backend.softmax(z) for z in backend.logits(bounds, x)]


def combined_probs(backend: Backend, bounds: list[Bound], x, vote: str = "soft"):
    """The system's answer for backend array `x`: the soft vote (mean probability) or,
    for a majority vote, the vote shares (ties broken by the soft vote, scaled so small
    that it never outweighs a single vote)."""
    probs = member_probs(backend, bounds, x)
    soft = sum(probs[1:], probs[0]) * (1.0 / len(probs))
    if vote == "soft" or len(probs) == 1:
        return soft
    k = soft.shape[1]
    votes = sum((backend.one_hot(backend.argmax(p, axis=1), k) for p in probs[1:]),
                backend.one_hot(backend.argmax(probs[0], axis=1), k))
    return (votes + soft * 1e-3) * (1.0 / (len(probs) * (1 + 1e-3)))


def predict_np(backend: Backend, bounds: list[Bound], x: np.ndarray, vote: str = "soft") -> np.ndarray:
    """Output probabilities as numpy, evaluated in large batches."""
    out = []
    for i in range(0, len(x), BATCH_EVAL):
        p = combined_probs(backend, bounds, backend.asarray(x[i:i + BATCH_EVAL]), vote)
        out.append(backend.to_numpy(p))
    return np.concatenate(out, axis=0) if out else np.zeros((0, 0), np.float32)


LOSSES = ("softvote_ce", "member_ce")


def input_gradient(backend: Backend, bounds: list[Bound], x, y, loss: str = "softvote_ce"):
    """d/dx of an attacker's loss through every network in `bounds`.

    "softvote_ce" is the cross-entropy of the soft-vote output, -log(mean_i p_i[y]): the
    gradient flows end to end through every member, weighted by how much each contributes
    to the averaged probability of the true class. "member_ce" is the sum of the members'
    own cross-entropies, which keeps a useful gradient when some members are saturated.
    For one network both are the usual cross-entropy gradient.
    """
    logits, tape = backend.forward(bounds, x, wrt=("input",))
    m = len(bounds)
    k = logits[0].shape[1]
    onehot = backend.one_hot(y, k)
    probs = [backend.softmax(z) for z in logits]
    if loss == "member_ce":
        gx, _ = backend.backward(tape, [p - onehot for p in probs])
        return gx
    if loss != "softvote_ce":
        raise ValueError(f"unknown attack loss {loss!r}; choose one of {LOSSES}")
    py = [backend.take_along(p, y) for p in probs]
    mean_py = sum(py[1:], py[0]) * (1.0 / m) + 1e-12
    grads = [(p - onehot) * backend.stack([pyi / (m * mean_py)], axis=1)
             for p, pyi in zip(probs, py)]
    gx, _ = backend.backward(tape, grads)
    return gx
