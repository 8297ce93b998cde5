"""Training methods that diversify ensemble members' vulnerabilities, as engine regularisers.

ADP (adaptive diversity promoting; Pang, Xu, Du, Chen and Zhu, ICML 2019), implemented
from the paper's description. Members train jointly; besides each member's cross-entropy,
the loss subtracts

    ADP(x, y) = alpha * H(mean_k p_k) + beta * log(ED + delta),

where H is the Shannon entropy of the ensemble's mean prediction and ED the ensemble
diversity: the squared volume det(M^T M) spanned by the members' *non-maximal*
predictions (each member's probability vector without the true class, scaled to unit
length, one column of M per member). Promoting entropy keeps the ensemble from
collapsing onto one confident answer; promoting ED makes members disagree about which
wrong class is next, which is what an adversarial example crafted on one member relies
on to transfer to the others. The paper's defaults are alpha = 2, beta = 0.5.

The gradient w.r.t. each member's logits is written in closed form (numpy), so both
backends train with it: d log det G / dM = 2 M G^-1 with G = M^T M, through the
normalisation (I - u u^T) / |u|, the removal of the true class, and the softmax Jacobian.
"""

from __future__ import annotations

import numpy as np

DELTA = 1e-20


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def adp_value_and_grad(logits: np.ndarray, y: np.ndarray, alpha: float, beta: float):
    """(per-sample ADP value (N,), gradient of the batch SUM of -ADP w.r.t. logits (K, N, L)).

    `logits` is (K members, N, L classes)."""
    z = np.asarray(logits, np.float64)
    k, n, L = z.shape
    p = _softmax(z)                                   # (K, N, L)
    pbar = p.mean(axis=0)                             # (N, L)
    logpb = np.log(np.clip(pbar, 1e-30, None))
    H = -(pbar * logpb).sum(axis=1)                   # (N,)
    dH_dp = np.broadcast_to(-(logpb + 1.0) / k, p.shape)  # dH/dp_k
    keep = np.ones((n, L), bool)
    keep[np.arange(n), y] = False
    u = p.transpose(1, 0, 2)[keep[:, None, :].repeat(k, 1)].reshape(n, k, L - 1)  # (N, K, L-1)
    norm = np.linalg.norm(u, axis=2, keepdims=True) + 1e-30
    ut = u / norm
    M = ut.transpose(0, 2, 1)                          # (N, L-1, K)
    G = M.transpose(0, 2, 1) @ M                       # (N, K, K)
    ED = np.linalg.det(G)
    Ginv = np.linalg.pinv(G)
    dlog_dM = 2.0 * (M @ Ginv) * (ED / (ED + DELTA))[:, None, None]  # (N, L-1, K)
    g_ut = dlog_dM.transpose(0, 2, 1)                 # (N, K, L-1)
    g_u = (g_ut - (g_ut * ut).sum(axis=2, keepdims=True) * ut) / norm
    g_pk = np.zeros((n, k, L))
    g_pk[keep[:, None, :].repeat(k, 1)] = g_u.reshape(-1)
    dED_dp = g_pk.transpose(1, 0, 2)                   # d log(ED+delta)/dp_k, (K, N, L)
    value = alpha * H + beta * np.log(ED + DELTA)
    g_p = -(alpha * dH_dp + beta * dED_dp)             # of -ADP
    g_z = p * (g_p - (p * g_p).sum(axis=2, keepdims=True))
    return value, g_z


def adp_regulariser(alpha: float = 2.0, beta: float = 0.5):
    """An `engine.train` regulariser: the gradient of the batch mean of -ADP."""

    def reg(be, outs, ybat):
        z = np.stack([be.to_numpy(o) for o in outs], 0)
        y = be.to_numpy(ybat).astype(np.int64)
        _, g = adp_value_and_grad(z, y, alpha, beta)
        g = g / max(len(y), 1)
        return [be.asarray(g[i].astype(np.float32 if be.dtype == "float32" else np.float64)) for i in range(len(outs))]

    return reg


METHODS = {"adp": "ADP (Pang et al., ICML 2019): ensemble entropy + log-det diversity of non-maximal predictions"}
