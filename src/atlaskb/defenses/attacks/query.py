"""Query attacks: a score-based one (SimBA, Guo et al. 2019) and a label-only one (after
Brendel et al.'s Boundary Attack). Both see only what their threat model allows and spend
at most `threat_model.queries` queries per input (the first, unmodified query included).

SimBA tries +step then -step on one coordinate at a time (random order per input) and keeps
a change when the criterion's log-probability margin falls. A margin on log-probabilities
rather than the true class's probability matters: for a confident model that probability is
exactly 1.0 in float32 for many inputs, so a probability-based SimBA never sees a change and
stalls, and the "robustness" it reports is float saturation. Pass k uses a step of
eps / 2**min(k, halvings) with a fresh coordinate order until the budget is spent; every try
is clipped to the eps L-inf ball and [0, 1], and a try that would not move the input is not
sent and costs nothing.

The boundary attack starts from one of the attacker's own images that the system already
labels differently, binary-searches towards the original, then walks along the boundary.
Success: misclassified within `eps` (L2) of the original.
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses.attacks import Attack

HALVINGS = 3


class SimBA(Attack):
    knowledge = ("scores", "white-box")
    name = "simba"
    norm = "linf"

    def __init__(self, halvings: int = HALVINGS):
        self.halvings = halvings

    def run(self, access, x, y, tm, rng, criterion):
        budget, eps = tm.queries, tm.eps
        n, d = x.shape
        x64 = x.astype(np.float64)
        lo, hi = np.clip(x64 - eps, 0.0, 1.0), np.clip(x64 + eps, 0.0, 1.0)
        xa = x.copy()
        if n == 0:
            return xa, np.zeros(0, np.int64)
        s = access.scores(xa)
        queries = np.ones(n, np.int64)
        marg = criterion.margin(s, y)
        success = marg <= 0
        k = 0
        while eps > 0 and budget > 1 and not (success | (queries >= budget)).all():
            step = eps / 2 ** min(k, self.halvings)
            order = np.argsort(rng.random((n, d)), axis=1)
            spent = int(queries.sum())
            for t in range(d):
                improved = np.zeros(n, bool)
                for sgn in (1.0, -1.0):
                    idx = np.flatnonzero(~success & (queries < budget) & ~improved)
                    if len(idx) == 0:
                        continue
                    c = order[idx, t]
                    new = np.clip(xa[idx, c] + sgn * step, lo[idx, c], hi[idx, c]).astype(x.dtype)
                    moves = new != xa[idx, c]
                    idx, c, new = idx[moves], c[moves], new[moves]
                    if len(idx) == 0:
                        continue
                    cand = xa[idx].copy()
                    cand[np.arange(len(idx)), c] = new
                    m = criterion.margin(access.scores(cand), y[idx])
                    queries[idx] += 1
                    better = m < marg[idx]
                    keep = idx[better]
                    xa[keep] = cand[better]
                    marg[keep] = m[better]
                    success[keep] = m[better] <= 0
                    improved[keep] = True
                if (success | (queries >= budget)).all():
                    break
            if int(queries.sum()) == spent:
                break
            k += 1
        return xa, np.minimum(queries, budget)


class _LabelOracle:
    """A label-only attacker's questions: `oracle(cand, owners)` sends `cand` (cast to
    `dtype` when given), charges one query to each row's owner and says which rows the
    criterion counts as adversarial. `queries` holds every input's count so far."""

    def __init__(self, access, y, criterion, n: int, dtype=None):
        self.access, self.y, self.criterion, self.dtype = access, y, criterion, dtype
        self.queries = np.zeros(n, np.int64)

    def __call__(self, cand, owners):
        np.add.at(self.queries, owners, 1)
        if self.dtype is not None:
            cand = cand.astype(self.dtype)
        return self.criterion(self.access.predict(cand), self.y[owners])


def _adversarial_starts(oracle: _LabelOracle, pool, tries: int, budget: int, rng, into) -> np.ndarray:
    """Starting points for label-only attacks: up to `tries` rounds, each input that has
    none yet (and budget left) draws one of the attacker's own images from `pool` and keeps
    it (written into `into`) when the system already labels it adversarially. Returns
    which inputs found one."""
    found = np.zeros(len(into), bool)
    for _ in range(min(tries, len(pool))):
        idx = np.flatnonzero(~found & (oracle.queries < budget))
        if len(idx) == 0:
            break
        cand = pool[rng.integers(0, len(pool), len(idx))]
        ok = oracle(cand, idx)
        into[idx[ok]] = cand[ok]
        found[idx[ok]] = True
    return found


class Boundary(Attack):
    """Label-only; `pool` holds the attacker's own images (starting points)."""

    knowledge = ("labels", "scores", "white-box")
    name = "boundary"
    norm = "l2"

    def __init__(self, pool: np.ndarray, search_steps: int = 8, starts: int = 20):
        self.pool, self.search_steps, self.starts = pool, search_steps, starts

    def params(self):
        return {"search_steps": self.search_steps, "starting_points_tried": self.starts}

    def run(self, access, x, y, tm, rng, criterion):
        budget, l2_max = tm.queries, tm.eps
        n = len(x)
        oracle = _LabelOracle(access, y, criterion, n)
        used = np.full(n, budget, np.int64)
        start = np.zeros_like(x)
        found = _adversarial_starts(oracle, self.pool, self.starts, budget, rng, start)
        xa = self._approach(oracle, x, start, found, budget)
        dist = np.linalg.norm(xa - x, axis=1)
        done = found & (dist <= l2_max)
        used[done] = oracle.queries[done]
        self._walk(oracle, x, xa, dist, found, done, used, tm, rng)
        # The outcome is the closest adversarial found; outside the budget it is not a
        # success, so the input itself is returned (the attacker sends nothing better).
        xa[~done] = x[~done]
        return xa, np.minimum(used, budget)

    def _approach(self, oracle, x, start, found, budget):
        """Binary search on the segment from each start towards its input: the point
        nearest the input that is still adversarial."""
        n = len(x)
        lo, hi = np.zeros(n), np.ones(n)
        for _ in range(self.search_steps):
            idx = np.flatnonzero(found & (oracle.queries < budget))
            if len(idx) == 0:
                break
            mid = (lo[idx] + hi[idx]) / 2
            ok = oracle((x[idx] + mid[:, None] * (start[idx] - x[idx])).astype(x.dtype), idx)
            hi[idx[ok]] = mid[ok]
            lo[idx[~ok]] = mid[~ok]
        return (x + hi[:, None] * (start - x)).astype(x.dtype)

    @staticmethod
    def _walk(oracle, x, xa, dist, found, done, used, tm, rng):
        """Walk along the boundary (in place): a random orthogonal step plus a step towards
        the input, kept when still adversarial and closer; step sizes grow on success and
        shrink on failure. An input is done once within `tm.eps` (L2)."""
        n = len(x)
        spherical, source = np.full(n, 0.2), np.full(n, 0.05)
        while True:
            idx = np.flatnonzero(found & ~done & (oracle.queries < tm.queries))
            if len(idx) == 0:
                return
            diff = x[idx] - xa[idx]
            dd = np.linalg.norm(diff, axis=1, keepdims=True) + 1e-12
            eta = rng.normal(size=diff.shape)
            eta -= (np.sum(eta * diff, axis=1, keepdims=True) / dd**2) * diff
            eta *= spherical[idx, None] * dd / (np.linalg.norm(eta, axis=1, keepdims=True) + 1e-12)
            cand = xa[idx] + eta
            cand += source[idx, None] * (x[idx] - cand)
            cand = np.clip(cand, 0.0, 1.0).astype(x.dtype)
            closer = np.linalg.norm(cand - x[idx], axis=1) < dd[:, 0]
            ok = oracle(cand, idx) & closer
            acc, rej = idx[ok], idx[~ok]
            xa[acc] = cand[ok]
            spherical[acc] = np.minimum(spherical[acc] * 1.1, 1.0)
            source[acc] = np.minimum(source[acc] * 1.1, 0.5)
            spherical[rej] = np.maximum(spherical[rej] * 0.95, 1e-3)
            source[rej] = np.maximum(source[rej] * 0.95, 1e-3)
            dist[acc] = np.linalg.norm(xa[acc] - x[acc], axis=1)
            newly = acc[dist[acc] <= tm.eps]
            done[newly] = True
            used[newly] = oracle.queries[newly]


class RayS(Attack):
    """Label-only L-inf attack after RayS (Chen and Gu, KDD 2020), from its description:
    search over sign directions d in {-1, +1}^D for the one whose decision boundary is
    nearest, where the boundary radius along d is the smallest r with x + r d (clipped to
    [0, 1]) misclassified. Directions are refined hierarchically: at stage s the features
    split into 2^s blocks and each block's sign is flipped in turn; a flip is kept when the
    flipped direction is already adversarial at the current best radius (one query), after
    which a binary search (to `tolerance` x eps) finds its radius. Success: a radius <= eps,
    i.e. a misclassified input inside the eps ball. All inputs run in lockstep so queries
    are batched; each is charged per input and never beyond the budget."""

    knowledge = ("labels", "scores", "white-box")
    name = "rays"
    norm = "linf"

    def __init__(self, tolerance: float = 0.05):
        self.tolerance = tolerance

    def run(self, access, x, y, tm, rng, criterion):
        budget, eps = tm.queries, tm.eps
        n, dim = x.shape
        x64 = x.astype(np.float64)
        queries = np.zeros(n, np.int64)
        if n == 0 or budget < 1:
            return x.copy(), queries

        def adv(idx, dirs, r):
            queries[idx] += 1
            cand = np.clip(x64[idx] + r[:, None] * dirs, 0.0, 1.0).astype(x.dtype)
            return criterion(access.predict(cand), y[idx])

        d = np.ones((n, dim))
        r_best = np.full(n, np.inf)
        done = np.zeros(n, bool)

        def search(idx, dirs, hi):
            """Binary search the boundary radius in (0, hi] along dirs (adversarial at hi)."""
            lo = np.zeros(len(idx))
            hi = hi.copy()
            while True:
                act = np.flatnonzero((hi - lo > self.tolerance * eps) & (hi > eps) & (queries[idx] < budget))
                if len(act) == 0:
                    return hi
                mid = (lo[act] + hi[act]) / 2
                ok = adv(idx[act], dirs[act], mid)
                hi[act[ok]] = mid[ok]
                lo[act[~ok]] = mid[~ok]

        # the starting direction: all +1, adversarial at radius 1 (the whole box) or not
        idx = np.arange(n)
        ok = adv(idx, d, np.ones(n))
        r_best[ok] = search(idx[ok], d[ok], np.ones(int(ok.sum())))
        done |= r_best <= eps
        stage = 0
        while True:
            blocks = 2 ** stage
            if blocks > dim:
                stage, blocks = 0, 1  # every single-feature flip tried: start over, coarse again
            edges = np.linspace(0, dim, blocks + 1).astype(int)
            for b in range(blocks):
                live = np.flatnonzero(~done & (queries < budget))
                if len(live) == 0:
                    return self._result(x, x64, d, r_best, eps), np.minimum(queries, budget)
                trial = d[live].copy()
                trial[:, edges[b]:edges[b + 1]] *= -1
                probe = np.where(np.isfinite(r_best[live]), r_best[live], 1.0)
                ok = adv(live, trial, probe)
                better = live[ok]
                if len(better):
                    r_new = search(better, trial[ok], probe[ok])
                    d[better] = trial[ok]
                    r_best[better] = np.minimum(r_best[better], r_new)
                    done[better] = r_best[better] <= eps
            stage += 1

    @staticmethod
    def _result(x, x64, d, r_best, eps):
        won = r_best <= eps
        out = x.copy()
        out[won] = np.clip(x64[won] + r_best[won, None] * d[won], 0.0, 1.0).astype(x.dtype)
        return out


class HopSkipJump(Attack):
    """Label-only, L-inf, after HopSkipJump (Chen, Jordan and Wainwright, 2020).

    From a starting point the system already labels differently (one of the attacker's own
    images, as in `Boundary`), it binary-searches to the decision boundary along the L-inf
    clip towards the original, then repeats: estimate the boundary's normal from the signs
    of `B_t = min(init_evals * sqrt(t), max_evals)` random probes at distance delta_t around
    the boundary point (mean-subtracted, as the paper's baseline), step along the sign of
    that estimate with a geometrically shrinking step from dist / sqrt(t), and binary-search
    back to the boundary. Inputs move in lockstep so each phase is one batched query.
    An input stops when its boundary point is within `eps` (success, its queries so far
    are recorded) or when the next iteration would overrun the budget; the attacker then
    sends the point clipped into the eps ball, which may still fool the system.
    """

    knowledge = ("labels", "scores", "white-box")
    name = "hopskipjump"
    norm = "linf"

    def __init__(self, pool: np.ndarray, init_evals: int = 20, max_evals: int = 100,
                 search_steps: int = 10, step_halvings: int = 8, starts: int = 20):
        self.pool, self.init_evals, self.max_evals = pool, init_evals, max_evals
        self.search_steps, self.step_halvings, self.starts = search_steps, step_halvings, starts

    def params(self):
        return {"init_evals": self.init_evals, "max_evals": self.max_evals, "search_steps": self.search_steps,
                "step_halvings": self.step_halvings, "starting_points_tried": self.starts}

    def run(self, access, x, y, tm, rng, criterion):
        budget, eps = tm.queries, tm.eps
        n = len(x)
        oracle = _LabelOracle(access, y, criterion, n, dtype=x.dtype)
        used = np.full(n, budget, np.int64)
        best = x.astype(np.float64).copy()
        found = _adversarial_starts(oracle, self.pool, self.starts, budget, rng, best)
        idx = np.flatnonzero(found & (oracle.queries + self.search_steps <= budget))
        best[idx] = self._to_boundary(oracle, x, best[idx], idx)
        dist = np.where(found, np.abs(best - x).max(axis=1), np.inf)
        done = found & (dist <= eps)
        used[done] = oracle.queries[done]
        t = 0
        while True:
            t += 1
            b_t = int(min(self.init_evals * np.sqrt(t), self.max_evals))
            cost = b_t + self.step_halvings + self.search_steps
            idx = np.flatnonzero(found & ~done & (oracle.queries + cost <= budget))
            if len(idx) == 0:
                break
            self._iterate(oracle, x, best, dist, idx, t, b_t, rng)
            newly = idx[dist[idx] <= eps]
            done[newly] = True
            used[newly] = oracle.queries[newly]
        out = np.clip(best, x - eps, x + eps)
        out[~found] = x[~found]
        return np.clip(out, 0.0, 1.0).astype(x.dtype), np.minimum(used, budget)

    def _to_boundary(self, oracle, x, far, idx):
        """Binary search on the L-inf radius between x (not adversarial) and `far` (adversarial)."""
        lo, hi = np.zeros(len(idx)), _linf(far, x, idx)
        for _ in range(self.search_steps):
            mid = (lo + hi) / 2
            ok = oracle(np.clip(far, x[idx] - mid[:, None], x[idx] + mid[:, None]), idx)
            hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
        return np.clip(far, x[idx] - hi[:, None], x[idx] + hi[:, None])

    def _iterate(self, oracle, x, best, dist, idx, t, b_t, rng):
        """Iteration `t` for the inputs `idx` (in place on `best` and `dist`): estimate the
        boundary's normal from `b_t` probes, step along its sign, search back to the
        boundary, and keep the new point where it is closer."""
        xb = best[idx]
        d = x.shape[1]
        delta = np.maximum(dist[idx] / d, 1e-4)
        u = rng.normal(size=(len(idx), b_t, d))
        u /= np.linalg.norm(u, axis=2, keepdims=True)
        probes = np.clip(xb[:, None, :] + (delta * np.sqrt(d))[:, None, None] * u, 0.0, 1.0)
        phi = np.where(oracle(probes.reshape(-1, d), np.repeat(idx, b_t)), 1.0, -1.0).reshape(len(idx), b_t)
        mean = phi.mean(axis=1, keepdims=True)
        mixed = (np.abs(mean) < 1.0)[:, 0]
        phi = np.where(mixed[:, None], phi - mean, phi)
        direction = np.sign(np.einsum("ib,ibd->id", phi, u))
        cand, moved = self._step(oracle, xb, dist[idx] / np.sqrt(t), direction, idx)
        m = idx[moved]
        if len(m):
            new = self._to_boundary(oracle, x, cand[moved], m)
            nd = _linf(new, x, m)
            closer = nd < dist[m]
            best[m[closer]], dist[m[closer]] = new[closer], nd[closer]

    def _step(self, oracle, xb, xi, direction, idx):
        """A step of size `xi` along `direction`, halved (up to `step_halvings` tries) until
        it stays adversarial: (the stepped points, which inputs moved)."""
        moved = np.zeros(len(idx), bool)
        cand = xb.copy()
        for _ in range(self.step_halvings):
            todo = np.flatnonzero(~moved)
            if len(todo) == 0:
                break
            c = np.clip(xb[todo] + xi[todo, None] * direction[todo], 0.0, 1.0)
            ok = oracle(c, idx[todo])
            cand[todo[ok]] = c[ok]
            moved[todo[ok]] = True
            xi[todo[~ok]] /= 2
        return cand, moved


def _linf(a, x, idx):
    """L-inf distance of each row of `a` from its input `x[idx]`."""
    return np.abs(a - x[idx]).max(axis=1) if len(idx) else np.zeros(0)
