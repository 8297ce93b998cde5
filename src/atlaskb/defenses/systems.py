"""Systems under test: anything that answers inputs, with one interface for attacks.

A system answers `predict(x)` (labels) and `scores(x)` (probabilities, rows sum to 1), and,
for white-box attackers, `gradient(x, y, loss)` (the input gradient of a per-input attack
loss, higher = more adversarial). A defense that wraps models (an ensemble, an input
transformation, a detector that rejects, post-processed outputs) is a system like any other.

Where a part is not differentiable, the system says so (`differentiable = False`) and
`gradient` returns what an adaptive attacker would use instead: BPDA (the backward pass of
a differentiable approximation) and, for randomised parts, the expectation over the
randomness (EOT, `eot_samples` draws). `approximation` names it, so a result row can say
which approximation the adaptive attack used. Attacks never branch on the system's type.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses.threat import REJECT  # noqa: F401 - the label `Rejecting` answers
from atlaskb.engine import train as T
from atlaskb.engine.backend import Backend
from atlaskb.engine.network import Network



class System:
    """Base class: subclasses implement `_logits`-free `scores`, `predict` and `gradient`."""

    n_classes: int
    differentiable: bool = True
    approximation: str = "exact"
    losses: tuple[str, ...] = ("ce", "margin")  # losses `gradient` accepts
    randomised: bool = False

    def scores(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.scores(x).argmax(axis=1)

    def gradient(self, x: np.ndarray, y: np.ndarray, loss: str = "ce",
                 rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(d loss / d x, per-input loss) as numpy; loss is summed over inputs, so each
        input's gradient is its own."""
        raise NotImplementedError(f"{type(self).__name__} offers no input gradient")

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == y)) if len(y) else float("nan")


def _empty_scores(n_classes: int) -> np.ndarray:
    return np.zeros((0, n_classes), np.float64)


_LOSS = {"ce": ("ce", "mean-prob"), "margin": ("margin", "mean-prob"), "member-ce": ("ce", "sum"),
         "member-margin": ("margin", "sum")}


class Ensemble(System):
    """One or more networks bound to a backend, answering by soft vote (mean softmax) or
    majority vote. A single network is the one-member case (`Model`).

    The majority vote is not differentiable: its gradient is the soft vote's (BPDA), and
    its scores are vote shares, so a score-based attacker sees little more than counts.
    Besides the soft vote's cross-entropy and margin, the losses include each member's own
    loss summed ("member-ce", "member-margin"), which keeps a gradient when one confident
    member mutes the soft-vote one.
    """

    def __init__(self, backend: Backend, networks: list[Network], vote: str = "soft"):
        if vote not in T.VOTES:
            raise ValueError(f"unknown vote {vote!r}; choose one of {T.VOTES}")
        if not networks:
            raise ValueError("an ensemble needs at least one network")
        self.backend, self.networks, self.vote = backend, list(networks), vote
        self.bounds = [backend.bind(n) for n in self.networks]
        self.n_classes = int(self.networks[0].n_out)
        self.differentiable = vote == "soft"
        self.approximation = "exact" if vote == "soft" else "bpda: soft vote of the same members"
        self.losses = tuple(_LOSS) if len(self.networks) > 1 else ("ce", "margin")

    def member_logits(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((len(self.networks), 0, self.n_classes), np.float32)
        return T.logits(self.backend, self.bounds, x)

    def scores(self, x):
        if len(x) == 0:
            return _empty_scores(self.n_classes)
        return T.vote_proba(self.member_logits(x), self.vote)

    def predict(self, x):
        if len(x) == 0:
            return np.zeros(0, np.int64)
        return T.combine_votes(self.member_logits(x), self.vote)

    def gradient(self, x, y, loss="ce", rng=None):
        if loss not in self.losses:
            raise ValueError(f"unknown loss {loss!r}; this system offers {self.losses}")
        be = self.backend
        name, combine = _LOSS[loss]
        g, per = T.input_gradient(be, self.bounds, x, np.asarray(y, np.int64), loss=name,
                                  combine=combine, return_loss=True)
        return be.to_numpy(g).astype(np.float64), be.to_numpy(per).astype(np.float64)

    def with_vote(self, vote: str) -> "Ensemble":
        return Ensemble(self.backend, self.networks, vote)

    def member(self, i: int) -> "Ensemble":
        return Ensemble(self.backend, [self.networks[i]])


def Model(backend: Backend, network: Network) -> Ensemble:
    """One network as a system."""
    return Ensemble(backend, [network])


class InputTransform(System):
    """A preprocessing defense: the inner system answers `transform(x)`.

    `transform(x, rng)` may be random (then `randomised=True`, and answers draw from the
    system's own stream). For gradients, the transform's own derivative where it offers
    one (`transform.backward(x, g, rng)`, a vector-Jacobian product; `rng` replays the
    forward pass's draws), else BPDA with the identity (the usual choice for quantisation,
    denoising and similar transforms that keep x close to itself); averaged over
    `eot_samples` draws when the transform is random (EOT).
    """

    def __init__(self, inner: System, transform, *, randomised: bool = False,
                 eot_samples: int = 8, seed: int = 0, name: str = "transform"):
        self.inner, self.transform = inner, transform
        self.randomised, self.eot_samples = randomised, eot_samples
        self.n_classes = inner.n_classes
        self.losses = inner.losses
        self.backward = getattr(transform, "backward", None)
        self.differentiable = False
        self.approximation = (("transform's own derivative" if self.backward else "bpda-identity")
                              + (f" + eot over {eot_samples} draws" if randomised else ""))
        self._rng = np.random.default_rng([seed, 0x7A])
        self.name = name

    def _t(self, x, rng=None):
        return np.clip(self.transform(x, rng or self._rng), 0.0, 1.0).astype(x.dtype)

    def scores(self, x):
        return self.inner.scores(self._t(x))

    def predict(self, x):
        return self.inner.predict(self._t(x))

    def gradient(self, x, y, loss="ce", rng=None):
        n = self.eot_samples if self.randomised else 1
        rng = rng or self._rng
        g_sum, l_sum = 0.0, 0.0
        for _ in range(n):
            draw = int(rng.integers(2**63))
            g, per = self.inner.gradient(self._t(x, np.random.default_rng(draw)), y, loss, rng)
            if self.backward is not None:
                g = self.backward(x, g, np.random.default_rng(draw))
            g_sum, l_sum = g_sum + g, l_sum + per
        return g_sum / n, l_sum / n


class Rejecting(System):
    """A classifier behind a detector: inputs the detector flags are answered `REJECT`.

    `detector` is a two-class system (class 1 = "adversarial"); an input is rejected when
    its class-1 score exceeds `threshold`. Scores have one extra column, the rejection,
    so a score-based attacker sees it. The adaptive (joint) loss is the classifier's loss
    minus `weight` x the detector's cross-entropy toward "clean", so the attack is pushed
    both across the boundary and under the detector.
    """

    def __init__(self, inner: System, detector: System, threshold: float = 0.5, weight: float = 1.0):
        self.inner, self.detector, self.threshold, self.weight = inner, detector, threshold, weight
        self.n_classes = inner.n_classes
        self.losses = tuple(name for name in inner.losses if name in ("ce", "margin"))
        self.differentiable = inner.differentiable and detector.differentiable
        self.approximation = "joint loss (classifier + detector)"

    def rejected(self, x):
        return self.detector.scores(x)[:, 1] > self.threshold

    def scores(self, x):
        s = self.inner.scores(x)
        r = self.rejected(x)
        out = np.concatenate([s, np.zeros((len(s), 1))], axis=1)
        out[r] = 0.0
        out[r, -1] = 1.0
        return out[:, : self.n_classes + 1]

    def predict(self, x):
        p = self.inner.predict(x)
        p = np.asarray(p).copy()
        p[self.rejected(x)] = REJECT
        return p

    def gradient(self, x, y, loss="ce", rng=None):
        g, per = self.inner.gradient(x, y, loss, rng)
        gd, ld = self.detector.gradient(x, np.zeros(len(x), np.int64), "ce", rng)
        return g - self.weight * gd, per - self.weight * ld


class PostProcessed(System):
    """Outputs changed after the model (rounded or top-k scores, labels only, added
    noise): `post(scores) -> scores`. The top label is the post-processed argmax. The
    gradient is the inner system's (post-processing is not differentiated: BPDA with the
    identity), which is what an adaptive white-box attacker who holds the weights would use."""

    def __init__(self, inner: System, post, name: str = "post-processed"):
        self.inner, self.post, self.name = inner, post, name
        self.n_classes = inner.n_classes
        self.losses = inner.losses
        self.differentiable = False
        self.approximation = "bpda-identity through the output post-processing"

    def scores(self, x):
        return self.post(self.inner.scores(x))

    def gradient(self, x, y, loss="ce", rng=None):
        return self.inner.gradient(x, y, loss, rng)
