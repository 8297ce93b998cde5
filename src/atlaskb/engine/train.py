"""Losses, minibatch-Adam training and ensemble inference, written once against `Backend`.

Everything here uses only the backend's array operations, so the numpy and torch backends
run the same algorithm and (in float64) agree to rounding. Gradients of losses with respect
to logits are derived in closed form here; the backend maps them back to inputs or weights.

Randomness is numpy's, seeded explicitly (`numpy.random.default_rng`), so a seed fixes the
minibatch order, and with it the trained weights, on either backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from atlaskb.engine.backend import Backend, Bound, flat_grads, flat_params
from atlaskb.engine.network import Network

LOSSES = ("ce", "margin")
COMBINES = ("mean-prob", "mean-logit", "sum")
VOTES = ("soft", "majority")  # how an ensemble answers: mean softmax, or members' label counts


# ---- binding ------------------------------------------------------------------------

def as_bounds(backend: Backend, nets, trainable: bool = False) -> list[Bound]:
    """A list of `Bound` from one or several `Network`s or already bound networks.

    Binding copies weights into the backend (and onto its device); in loops (attacks),
    bind once and pass the bounds.
    """
    if isinstance(nets, (Network, Bound)):
        nets = [nets]
    out = []
    for n in nets:
        out.append(n if isinstance(n, Bound) else backend.bind(n, trainable=trainable))
    if not out:
        raise ValueError("no networks given")
    return out


# ---- losses -------------------------------------------------------------------------

def _log_softmax(be: Backend, z, axis: int):
    z = z - be.amax(z, axis=axis, keepdims=True)
    return z - be.log(be.sum(be.exp(z), axis=axis, keepdims=True))


def _logsumexp(be: Backend, a, axis: int):
    m = be.amax(a, axis=axis, keepdims=True)
    return be.log(be.sum(be.exp(a - m), axis=axis, keepdims=True)) + m


def softmax_cross_entropy(backend: Backend, logits, y):
    """Mean softmax cross-entropy over the batch and its gradient w.r.t. the logits, in one
    pass: `(loss, (softmax(logits) - onehot(y)) / N)`. `y` is an integer backend array, or
    an (N, K) float array of target distributions (soft labels: a copy distilled from
    returned probabilities), which then stands in for the one-hot rows."""
    be = backend
    lp = be.log_softmax(logits)
    onehot = y if len(y.shape) == 2 else be.one_hot(y, logits.shape[1])
    n = logits.shape[0]
    loss = -be.sum(lp * onehot) / n
    return loss, (be.exp(lp) - onehot) / n


def attack_loss(backend: Backend, logits_list: list, y, loss: str = "ce",
                combine: str = "mean-prob"):
    """Per-sample attack loss of an ensemble (higher = more adversarial) and its gradient
    w.r.t. each member's logits, for the SUM of the per-sample losses.

    combine="mean-prob": the ensemble's output is the mean of the members' softmax (soft
    vote); "ce" is −log p̄_y and "margin" is max_{j≠y} log p̄_j − log p̄_y. The log of a mean
    of probabilities is taken with log-sum-exp over members, so it stays finite when the
    members are confident. combine="mean-logit": the members' logits are averaged first.
    combine="sum": each member's own loss, summed. An adaptive attack needs it as well: in the
    soft-vote gradient each member is weighted by its share of p̄_y, so a member that is
    confident in the true class takes almost all the weight while its own gradient
    (p − onehot) is almost zero, and the attack stalls although the other members are easy
    to flip. Summing the members' losses gives each its own full gradient.
    With one network all three agree. Returns `(per_sample_loss, [dL/dlogits_m])`.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES}")
    if combine not in COMBINES:
        raise ValueError(f"unknown combine {combine!r}; choose one of {COMBINES}")
    onehot = backend.one_hot(y, logits_list[0].shape[1])
    by_combine = {"sum": _summed_member_loss, "mean-logit": _mean_logit_loss, "mean-prob": _mean_prob_loss}
    return by_combine[combine](backend, logits_list, onehot, loss)


def _summed_member_loss(be: Backend, logits_list: list, onehot, loss: str):
    """combine="sum": each member's own loss, summed; each member keeps its own gradient."""
    k = onehot.shape[1]
    pers, grads = [], []
    for z in logits_list:
        if loss == "ce":
            lp = be.log_softmax(z)
            pers.append(-be.sum(lp * onehot, axis=1))
            grads.append(be.exp(lp) - onehot)
        else:
            onej = be.one_hot(be.argmax(z - onehot * 1e9, axis=1), k)
            pers.append(be.sum(z * (onej - onehot), axis=1))
            grads.append(onej - onehot)
    return sum(pers[1:], pers[0]), grads


def _mean_logit_loss(be: Backend, logits_list: list, onehot, loss: str):
    """combine="mean-logit": the loss of the members' mean logits; each member gets 1/M of
    its gradient."""
    m, k = len(logits_list), onehot.shape[1]
    zbar = logits_list[0] if m == 1 else be.sum(be.stack(logits_list, 0), axis=0) / m
    if loss == "ce":
        lp = be.log_softmax(zbar)
        per = -be.sum(lp * onehot, axis=1)
        g = (be.exp(lp) - onehot) / m
    else:
        j = be.argmax(zbar - onehot * 1e9, axis=1)
        onej = be.one_hot(j, k)
        per = be.sum(zbar * (onej - onehot), axis=1)
        g = (onej - onehot) / m
    return per, [g] * m


def _mean_prob_loss(be: Backend, logits_list: list, onehot, loss: str):
    """combine="mean-prob": the loss of the soft vote p̄ (the mean of the members'
    softmax), with log p̄ taken by log-sum-exp over members so it stays finite; a member's
    gradient is weighted by its share of p̄."""
    m, k = len(logits_list), onehot.shape[1]
    z = be.stack(logits_list, 0)  # (M, N, K)
    lp = _log_softmax(be, z, axis=2)
    p = be.exp(lp)
    lse = _logsumexp(be, lp, axis=0)  # (1, N, K): log of the summed member probabilities
    w = be.exp(lp - lse)  # (M, N, K): each member's share of p̄_c, sums to 1 over members
    log_m = math.log(m)
    lpbar = lse[0] - log_m  # (N, K): log p̄
    wy = be.sum(w * onehot, axis=2, keepdims=True)  # (M, N, 1)
    if loss == "ce":
        per = -be.sum(lpbar * onehot, axis=1)
        g = wy * (p - onehot)
    else:
        j = be.argmax(lpbar - onehot * 1e9, axis=1)
        onej = be.one_hot(j, k)
        per = be.sum(lpbar * (onej - onehot), axis=1)
        wj = be.sum(w * onej, axis=2, keepdims=True)
        g = wj * onej - wy * onehot + (wy - wj) * p
    return per, [g[i] for i in range(m)]


def input_gradient(backend: Backend, bounds, x, y, loss: str = "ce",
                   combine: str = "mean-prob", return_loss: bool = False):
    """Gradient w.r.t. the input `x` of the summed attack loss of all `bounds` together
    (end to end through the ensemble; see `attack_loss`). Per-sample gradients are therefore
    independent of the batch size. With `return_loss=True`, returns `(grad, per_sample_loss)`.
    Arrays are backend arrays (numpy inputs are converted)."""
    be = backend
    bounds = as_bounds(be, bounds)
    x = be.asarray(x)
    y = be.asarray(y)
    outs, tape = be.forward(bounds, x, wrt=("input",))
    with be.no_grad():  # closed-form logit gradients: no graph needed past the logits
        per, grads = attack_loss(be, outs, y, loss=loss, combine=combine)
    gx, _ = be.backward(tape, grads)
    return (gx, per) if return_loss else gx


# ---- training -----------------------------------------------------------------------

def _diversity_grads(be: Backend, outs: list, lam: float, batch: int) -> list:
    """Gradient w.r.t. each member's logits of −(λ/M)·Σ_m ||p_m − p̄||² / batch.

    The exact derivative w.r.t. p_m is −(2λ/M)(p_m − p̄) (the p̄ terms cancel because the
    deviations sum to zero), mapped through the softmax Jacobian: p ⊙ (v − ⟨p, v⟩).
    """
    m = len(outs)
    probs = [be.softmax(z) for z in outs]
    pbar = probs[0]
    for q in probs[1:]:
        pbar = pbar + q
    pbar = pbar / m
    grads = []
    for q in probs:
        v = (q - pbar) * (-2.0 * lam / m / batch)
        grads.append(q * (v - be.sum(q * v, axis=1, keepdims=True)))
    return grads


def train(backend: Backend, nets, X, y, epochs: int = 20, batch_size: int = 64,
          lr: float = 1e-3, seed: int = 0, *, subsets: Sequence | None = None,
          diversity: float = 0.0, regulariser: Callable | None = None,
          rng: np.random.Generator | None = None,
          batch_hook: Callable[[np.ndarray, np.ndarray, np.random.Generator],
                               tuple[np.ndarray, np.ndarray]] | None = None,
          adversary: Callable | None = None):
    """Train one network or a list of networks with minibatch Adam on softmax cross-entropy.

    Returns new `Network`s (the inputs are not modified): one if one was given, else a list.
    Each network's per-epoch mean training loss is recorded in `meta["train_loss"]`.

    - Independent training (default): network i shuffles with `default_rng([seed, i])` and
      trains on `X[subsets[i]]` when `subsets` is given (training partitions).
    - `diversity > 0`: all networks train jointly on the same minibatches (`default_rng(seed)`)
      with a negative-correlation term −λ·mean_m ||p_m − p̄||² that rewards disagreement.
    - `regulariser(backend, member_logits, y) -> [d/dlogits_m]`: a joint term on the members'
      outputs (the gradient of its batch-mean value w.r.t. each member's logits), added to
      the cross-entropy gradients; like `diversity`, it trains all networks jointly on shared
      minibatches. Ensemble-diversity training methods (ADP, say) plug in here.
    - `rng`: a generator to draw the minibatch order from instead of `seed` (networks in
      turn in independent mode). Callers that already carry a named random stream (the
      reference defenses draw each member's bootstrap sample, initial weights and batch
      order from one stream) keep it, so their numbers do not depend on how seeds are split.
    - `batch_hook(xb, yb, rng) -> (xb, yb)`: runs on every numpy minibatch before it reaches
      the backend, with the shuffling generator. It models a compromised training tool that
      rewrites batches in flight while the caller's data stays untouched (AML.T0010.001).
      Without a hook, batches are sliced from arrays already on the backend's device.
    - `y` may be an (N, K) array of target probabilities (soft labels) instead of labels.
    - `adversary(group, xb, yb, gen) -> xb`: replaces each minibatch's inputs (backend
      arrays) by inputs crafted against the networks' current weights before the update:
      adversarial training (see `pgd_adversary`).
    Same seed (or generator state), data and backend (and thread count) ⇒ identical weights.
    """
    single = isinstance(nets, Network)
    nets = [nets] if single else list(nets)
    joint = diversity > 0 or regulariser is not None
    X_np, y_np = _training_arrays(nets, X, y, subsets, joint, batch_hook)
    trainer = _Trainer(backend, X_np, y_np, batch_size, lr, diversity, regulariser, batch_hook, adversary)
    bounds = [backend.bind(n, trainable=True) for n in nets]
    if joint:
        histories = trainer.jointly(bounds, epochs, rng if rng is not None else np.random.default_rng(seed))
    else:
        histories = trainer.each(bounds, epochs, seed, rng, subsets)
    out = []
    for b, hist in zip(bounds, histories):
        net = b.to_network(backend)
        net.meta = dict(net.meta, train_loss=[round(v, 8) for v in hist])
        out.append(net)
    return out[0] if single else out


def _training_arrays(nets: list, X, y, subsets, joint: bool, batch_hook) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) as numpy, labels int64 or soft targets float32; a request that cannot be
    trained (no networks, mismatched shapes, subsets with joint training, a batch hook with
    soft targets) is a ValueError before any work."""
    if not nets:
        raise ValueError("no networks to train")
    y_np = np.asarray(y)
    soft = y_np.ndim == 2  # rows of target probabilities instead of labels
    y_np = y_np.astype(np.float32) if soft else y_np.astype(np.int64)
    if soft and batch_hook is not None:
        raise ValueError("a batch hook rewrites integer labels; it cannot take soft targets")
    X_np = np.asarray(X)
    if X_np.ndim != 2 or len(X_np) != len(y_np):
        raise ValueError(f"X must be (N, features) with one label per row; got {X_np.shape}, {y_np.shape}")
    if subsets is not None and len(subsets) != len(nets):
        raise ValueError("subsets needs one index array per network")
    if joint and subsets is not None:
        raise ValueError("diversity training uses shared minibatches; it cannot take subsets")
    return X_np, y_np


@dataclass
class _Trainer:
    """One `train` call's data and settings; `step` is one Adam update of a group of bound
    networks on one minibatch, `jointly` and `each` are the two ways of ordering them."""

    be: Backend
    X: np.ndarray
    y: np.ndarray
    batch_size: int
    lr: float
    diversity: float
    regulariser: Callable | None
    batch_hook: Callable | None
    adversary: Callable | None

    def __post_init__(self):
        if self.batch_hook is None:  # slice batches from arrays already on the device
            self.Xb, self.yb = self.be.asarray(self.X), self.be.asarray(self.y)

    def batch(self, idx: np.ndarray, gen: np.random.Generator):
        """The minibatch at `idx` as backend arrays, through the batch hook when there is one."""
        be = self.be
        if self.batch_hook is None:
            return be.take_rows(self.Xb, idx), be.take_rows(self.yb, idx)
        xh, yh = self.batch_hook(self.X[idx], self.y[idx], gen)
        return be.asarray(xh), be.asarray(np.asarray(yh).astype(np.int64))

    def logit_grads(self, outs: list, ybat) -> tuple[list, list]:
        """Each member's cross-entropy and its gradient w.r.t. the member's logits, with
        the joint terms (diversity, regulariser) added."""
        be = self.be
        losses, glogits = [], []
        for z in outs:
            loss, g = softmax_cross_entropy(be, z, ybat)
            losses.append(loss)
            glogits.append(g)
        if self.diversity > 0:
            extra = _diversity_grads(be, outs, self.diversity, int(ybat.shape[0]))
            glogits = [g + e for g, e in zip(glogits, extra)]
        if self.regulariser is not None:
            extra = self.regulariser(be, outs, ybat)
            glogits = [g + e for g, e in zip(glogits, extra)]
        return losses, glogits

    def step(self, group: list[Bound], idx: np.ndarray, state: dict, gen: np.random.Generator) -> list:
        """One update of `group` on the rows `idx`; returns each member's batch loss."""
        be = self.be
        xb, ybat = self.batch(idx, gen)
        if self.adversary is not None:
            xb = self.adversary(group, xb, ybat, gen)
        outs, tape = be.forward(group, xb, wrt=("params",))
        with be.no_grad():  # closed-form logit gradients; keeps torch from holding graphs
            losses, glogits = self.logit_grads(outs, ybat)
        _, grads = be.backward(tape, glogits)
        be.adam_step(flat_params(group), flat_grads(grads), state, self.lr)
        return losses

    def jointly(self, bounds: list[Bound], epochs: int, gen: np.random.Generator) -> list[list[float]]:
        """All networks on the same minibatches, one Adam state: per-network loss histories."""
        histories: list[list[float]] = [[] for _ in bounds]
        state: dict = {}
        n = len(self.y)
        for _ in range(epochs):
            perm = gen.permutation(n)
            sums = [0.0] * len(bounds)
            n_batches = 0
            for start in range(0, n, self.batch_size):
                losses = self.step(bounds, perm[start:start + self.batch_size], state, gen)
                sums = [s + loss for s, loss in zip(sums, losses)]
                n_batches += 1
            for i, s in enumerate(sums):
                histories[i].append(self.be.item(s) / n_batches)
        return histories

    def each(self, bounds: list[Bound], epochs: int, seed: int, rng, subsets) -> list[list[float]]:
        """Each network in turn on its own shuffles (and subset): per-network loss histories."""
        histories: list[list[float]] = []
        for i, b in enumerate(bounds):
            gen = rng if rng is not None else np.random.default_rng([int(seed), i])
            idx_all = np.arange(len(self.y)) if subsets is None else np.asarray(subsets[i], np.int64)
            if len(idx_all) == 0:
                raise ValueError(f"network {i} has an empty training subset")
            state: dict = {}
            history: list[float] = []
            for _ in range(epochs):
                perm = idx_all[gen.permutation(len(idx_all))]
                total, n_batches = 0.0, 0
                for start in range(0, len(perm), self.batch_size):
                    total = total + self.step([b], perm[start:start + self.batch_size], state, gen)[0]
                    n_batches += 1
                history.append(self.be.item(total) / n_batches)
            histories.append(history)
        return histories


def pgd_adversary(backend: Backend, eps: float, steps: int, step_size: float | None = None):
    """An `adversary` for `train`: L-inf PGD with a uniform random start against the
    current weights (Madry et al., 2018), cross-entropy of the group's soft vote, step
    `step_size` (default 2.5 eps / steps), inputs kept in [0, 1]. Training on its output
    alone is PGD adversarial training."""
    be = backend
    alpha = 2.5 * eps / steps if step_size is None else step_size

    def craft(group, xb, yb, gen):
        x0 = be.to_numpy(xb)
        lo, hi = np.clip(x0 - eps, 0.0, 1.0), np.clip(x0 + eps, 0.0, 1.0)
        xa = np.clip(x0 + gen.uniform(-eps, eps, x0.shape), lo, hi).astype(x0.dtype)
        for _ in range(steps):
            g = be.to_numpy(input_gradient(be, group, xa, yb))
            xa = np.clip(xa + alpha * np.sign(g), lo, hi).astype(x0.dtype)
        return be.asarray(xa)

    return craft


# ---- inference ----------------------------------------------------------------------

def logits(backend: Backend, nets, X, batch_size: int = 4096) -> np.ndarray:
    """Every member's logits as a numpy array of shape (M, N, K)."""
    be = backend
    bounds = as_bounds(be, nets)
    Xn = np.asarray(X)
    parts = []
    for start in range(0, len(Xn), batch_size):
        outs = be.logits(bounds, be.asarray(Xn[start:start + batch_size]))
        parts.append(np.stack([be.to_numpy(z) for z in outs], 0))
    return np.concatenate(parts, axis=1)


def predict_proba(backend: Backend, nets, X, batch_size: int = 4096) -> np.ndarray:
    """Soft vote: the mean of the members' softmax, numpy (N, K)."""
    z = logits(backend, nets, X, batch_size)
    z = z - z.max(axis=2, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=2, keepdims=True)
    return p.mean(axis=0)


def _vote_scores(member_logits: np.ndarray, vote: str) -> np.ndarray:
    """Unnormalised (N, K) scores whose argmax is the vote: the mean softmax ("soft"), or
    member label counts plus half the mean softmax ("majority"), so ties go to the soft vote
    and the tie-break (at most 0.5) can never outweigh a whole vote."""
    if vote not in VOTES:
        raise ValueError(f"unknown vote {vote!r}; choose one of {VOTES}")
    z = member_logits - member_logits.max(axis=2, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=2, keepdims=True)
    pbar = p.mean(axis=0)
    if vote == "soft":
        return pbar
    m, n, k = member_logits.shape
    counts = np.zeros((n, k))
    labels = member_logits.argmax(axis=2)  # (M, N)
    for i in range(m):
        counts[np.arange(n), labels[i]] += 1
    return counts + 0.5 * pbar


def combine_votes(member_logits: np.ndarray, vote: str = "soft") -> np.ndarray:
    """Labels from (M, N, K) member logits. "soft": argmax of the mean softmax. "majority":
    the members' most frequent label, ties broken by the soft vote (deterministic)."""
    return _vote_scores(member_logits, vote).argmax(axis=1)


def vote_proba(member_logits: np.ndarray, vote: str = "soft") -> np.ndarray:
    """What a deployed ensemble answers, as (N, K) scores summing to 1, from (M, N, K)
    member logits: the mean softmax ("soft"), or for a majority vote the vote shares
    (counts + 0.5·p̄) / (M + 0.5). Score-based black-box attacks and fingerprinting see
    these, so a majority-vote system exposes little more than its vote counts. Take labels
    from `combine_votes` (it takes the argmax before the rescaling)."""
    scores = _vote_scores(member_logits, vote)
    return scores if vote == "soft" else scores / (member_logits.shape[0] + 0.5)


def predict(backend: Backend, nets, X, vote: str = "soft", batch_size: int = 4096) -> np.ndarray:
    """Labels (numpy int64) of one network or an ensemble by soft or majority vote (`VOTES`)."""
    return combine_votes(logits(backend, nets, X, batch_size), vote).astype(np.int64)


def accuracy(backend: Backend, nets, X, y, vote: str = "soft") -> float:
    """Fraction of `X` labelled `y` by `predict`."""
    return float(np.mean(predict(backend, nets, X, vote=vote) == np.asarray(y)))
