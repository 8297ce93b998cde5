"""Training and attack losses: loss values and gradients (finite differences), ensemble
input gradients, deterministic training that reduces the loss, subsets, diversity, the
batch hook, soft targets, and votes."""

from __future__ import annotations

import numpy as np
import pytest

from atlaskb.engine import convnet, get_backend, mlp
from atlaskb.engine import train as T
from engine_support import digits, fd_check, make_nets, random_data, randomize_biases


@pytest.mark.parametrize("loss", ["ce", "margin"])
@pytest.mark.parametrize("combine", ["mean-prob", "mean-logit", "sum"])
def test_numpy_ensemble_input_gradient_matches_finite_differences(loss, combine):
    be = get_backend("numpy", dtype="float64")
    bounds = [be.bind(randomize_biases(n, i)) for i, n in enumerate(make_nets().values())]
    x, y = random_data(seed=4)

    def total():
        outs = be.logits(bounds, x)
        return float(np.sum(T.attack_loss(be, outs, y, loss, combine)[0]))

    gx, per = T.input_gradient(be, bounds, x, y, loss=loss, combine=combine, return_loss=True)
    assert per.shape == (len(y),)
    fd_check(total, x, gx, n_coords=30)


def test_loss_gradient_and_values():
    be = get_backend("numpy", dtype="float64")
    z, y = np.random.default_rng(0).normal(size=(5, 4)) * 3, np.array([0, 1, 2, 3, 0])
    loss, g = T.softmax_cross_entropy(be, z, y)
    ref = -np.mean(z[np.arange(5), y] - np.log(np.exp(z).sum(1)))
    assert np.isclose(loss, ref)
    fd_check(lambda: float(T.softmax_cross_entropy(be, z, y)[0]), z, g, n_coords=20)
    m = T.attack_loss(be, [z], y, "margin", "sum")[0]  # one network: its own margin
    zz = z.copy()
    zz[np.arange(5), y] = -np.inf
    assert np.allclose(m, zz.max(1) - z[np.arange(5), y])
    # One network: every combine mode gives the same attack loss and gradient.
    for loss in T.LOSSES:
        ref, gref = T.attack_loss(be, [z], y, loss, "mean-prob")
        for combine in T.COMBINES[1:]:
            per, g = T.attack_loss(be, [z], y, loss, combine)
            assert np.allclose(per, ref) and np.allclose(g[0], gref[0]), (loss, combine)
    # "sum": the members' own losses added up, each member keeping its own gradient.
    z2 = z[::-1].copy()
    per, g = T.attack_loss(be, [z, z2], y, "ce", "sum")
    own = [T.attack_loss(be, [w], y, "ce", "mean-prob") for w in (z, z2)]
    assert np.allclose(per, own[0][0] + own[1][0])
    assert np.allclose(g[0], own[0][1][0]) and np.allclose(g[1], own[1][1][0])


def test_mean_prob_loss_is_finite_for_confident_members():
    be = get_backend("numpy", dtype="float32")
    z = np.array([[400.0, -400.0], [-400.0, 400.0]], np.float32)
    per, grads = T.attack_loss(be, [z, z], np.array([1, 1]), "ce", "mean-prob")
    assert np.all(np.isfinite(per)) and all(np.all(np.isfinite(g)) for g in grads)


# ---- training ----------------------------------------------------------------------------


@pytest.fixture
def one_torch_thread():
    """Tiny networks on a shared CPU: torch's intra-op threads only contend (measured on a
    loaded 2-core machine: 11.9 s for the torch training test with default threads, 2.7 s
    with one). Restored afterwards so other tests see torch's default."""
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_training_reduces_loss_and_is_deterministic(backend, request):
    if backend == "torch":
        request.getfixturevalue("one_torch_thread")
    be = get_backend(backend)
    X, y = digits()
    start = [mlp(64, (32,), 10, "relu", np.random.default_rng(0)),
             convnet((1, 8, 8), 10, np.random.default_rng(1), channels=4)]
    a = T.train(be, start, X, y, epochs=4, batch_size=32, lr=1e-2, seed=7)
    b = T.train(be, start, X, y, epochs=4, batch_size=32, lr=1e-2, seed=7)
    c = T.train(be, start, X, y, epochs=4, batch_size=32, lr=1e-2, seed=8)
    for net in a:
        hist = net.meta["train_loss"]
        assert len(hist) == 4 and hist[-1] < 0.6 * hist[0]
    for na, nb, nc in zip(a, b, c):
        for pa, pb, pc in zip(na.params, nb.params, nc.params):
            for k in pa:
                np.testing.assert_array_equal(pa[k], pb[k])
        assert any(not np.array_equal(pa[k], pc[k]) for pa, pc in zip(na.params, nc.params) for k in pa)
    # The inputs are untouched and accuracy is far above chance.
    assert "train_loss" not in start[0].meta
    assert T.accuracy(be, a, X, y) > 0.85


def test_subsets_and_diversity_training():
    be = get_backend("numpy")
    X, y = digits(300)
    nets = [mlp(64, (16,), 10, "relu", np.random.default_rng(i)) for i in range(3)]
    parts = [np.arange(i, 300, 3) for i in range(3)]
    sub = T.train(be, nets, X, y, epochs=2, batch_size=50, lr=3e-3, seed=0, subsets=parts)
    assert len(sub) == 3
    d1 = T.train(be, nets, X, y, epochs=2, batch_size=50, lr=3e-3, seed=0, diversity=0.5)
    d2 = T.train(be, nets, X, y, epochs=2, batch_size=50, lr=3e-3, seed=0, diversity=0.5)
    np.testing.assert_array_equal(d1[2].params[0]["W"], d2[2].params[0]["W"])
    with pytest.raises(ValueError):
        T.train(be, nets, X, y, subsets=parts, diversity=0.5)


def test_rng_and_batch_hook():
    """A caller's generator replaces `seed` (same state, same weights), and `batch_hook`
    sees every numpy minibatch, draws from that generator, and changes only what the
    network trains on, never the caller's arrays."""
    be = get_backend("numpy")
    X, y = digits(120)
    X0, y0 = X.copy(), y.copy()
    net = mlp(64, (8,), 10, "relu", np.random.default_rng(0))
    seen = []

    def hook(xb, yb, gen):
        seen.append(len(yb))
        yb = yb.copy()
        yb[: gen.integers(1, 3)] = 0
        return xb, yb

    a = T.train(be, net, X, y, epochs=2, batch_size=50, rng=np.random.default_rng(4), batch_hook=hook)
    b = T.train(be, net, X, y, epochs=2, batch_size=50, rng=np.random.default_rng(4), batch_hook=hook)
    c = T.train(be, net, X, y, epochs=2, batch_size=50, rng=np.random.default_rng(4))
    assert seen == [50, 50, 20] * 4
    np.testing.assert_array_equal(a.params[0]["W"], b.params[0]["W"])
    assert not np.array_equal(a.params[0]["W"], c.params[0]["W"])
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    # With no hook, a generator seeded like the default stream reproduces `seed`.
    d = T.train(be, net, X, y, epochs=2, batch_size=50, seed=5)
    e = T.train(be, [net], X, y, epochs=2, batch_size=50, rng=np.random.default_rng([5, 0]))[0]
    np.testing.assert_array_equal(d.params[0]["W"], e.params[0]["W"])


def test_votes():
    # Three members over two samples and three classes.
    z = np.full((3, 2, 3), -5.0)
    z[0, 0, 0] = z[1, 0, 1] = z[2, 0, 1] = 5.0       # sample 0: majority says 1
    z[0, 1, 2] = 9.0                                 # sample 1: members 0 -> 2, 1 -> 0, 2 -> 1
    z[1, 1, 0] = 1.0
    z[2, 1, 1] = 1.0
    assert T.combine_votes(z, "majority").tolist() == [1, 2]  # the tie goes to the soft vote
    assert T.combine_votes(z, "soft").tolist() == [1, 2]
    for vote in T.VOTES:  # the scores a system answers with: a distribution, same argmax
        p = T.vote_proba(z, vote)
        assert np.allclose(p.sum(1), 1) and (p.argmax(1) == T.combine_votes(z, vote)).all()
    counts = np.array([[1, 2, 0], [1, 1, 1]])
    assert np.allclose(T.vote_proba(z, "majority"), (counts + 0.5 * T.vote_proba(z, "soft")) / 3.5)
    be = get_backend("numpy")
    X, _ = digits(20)
    nets = [mlp(64, (8,), 10, "relu", np.random.default_rng(i)) for i in range(3)]
    p = T.predict_proba(be, nets, X)
    assert p.shape == (20, 10) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert np.array_equal(T.predict(be, nets, X), p.argmax(1))
    assert T.logits(be, nets, X, batch_size=7).shape == (3, 20, 10)


def test_soft_targets_refuse_a_batch_hook():
    be = get_backend("numpy")
    net = mlp(4, (3,), 2, "relu", np.random.default_rng(0))
    x = np.random.default_rng(0).random((8, 4)).astype(np.float32)
    q = np.full((8, 2), 0.5, np.float32)
    T.train(be, net, x, q, epochs=1)  # soft targets train
    with pytest.raises(ValueError, match="soft targets"):
        T.train(be, net, x, q, epochs=1, batch_hook=lambda a, b, r: (a, b))


def test_soft_targets_train_alike_on_numpy_and_torch():
    pytest.importorskip("torch")
    r = np.random.default_rng(0)
    x = r.random((40, 6)).astype(np.float32)
    q = r.dirichlet(np.ones(3), 40).astype(np.float32)
    net = mlp(6, (5,), 3, "relu", np.random.default_rng(1))
    out = {b: T.train(get_backend(b, "cpu") if b == "torch" else get_backend(b), net, x, q, epochs=3,
                      batch_size=16, lr=1e-2, rng=np.random.default_rng(2)) for b in ("numpy", "torch")}
    pn = T.predict_proba(get_backend("numpy"), [out["numpy"]], x)
    pt = T.predict_proba(get_backend("numpy"), [out["torch"]], x)
    np.testing.assert_allclose(pn, pt, atol=1e-4)
    assert out["numpy"].meta["train_loss"][-1] < out["numpy"].meta["train_loss"][0]
