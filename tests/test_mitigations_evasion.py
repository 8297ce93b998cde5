"""The evasion mitigations (AML.M0003, M0010, M0015) and the framework pieces they added:
input transformations with their derivatives, rejection-aware criteria and measurements,
adversarial training, and the sanity checks the guide asks for on each defended system
(the adaptive attack at least as strong as the non-adaptive one; a large eps drives the
system to ~0, so no robustness comes from masked gradients)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from atlaskb.defenses import data, measure, runner, transforms
from atlaskb.defenses.context import SeedContext
from atlaskb.defenses.mitigations import _evasion as E
from atlaskb.defenses.systems import REJECT, InputTransform, Model
from atlaskb.defenses.threat import Misclassification, ThreatModel
from atlaskb.engine import get_backend
from atlaskb.engine.network import mlp

IMG = (1, 8, 8)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """BLAS pinned as in `defend run`: small models on a shared machine."""
    with runner.pinned_threads("numpy"):
        yield


def _numeric_vjp(f, x, g, seed):
    num, h = np.zeros_like(x), 1e-6
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, j] = h
        num[:, j] = ((f(x + e, np.random.default_rng(seed)) - f(x - e, np.random.default_rng(seed))) * g).sum(1) / (2 * h)
    return num


@pytest.mark.parametrize("make", [lambda: transforms.median_filter(IMG, 2), lambda: transforms.median_filter(IMG, 3),
                                  lambda: transforms.random_shift(IMG, 1)])
def test_transform_derivatives_match_finite_differences(make):
    f = make()
    r = np.random.default_rng(0)
    x, g = r.random((4, 64)), r.normal(size=(4, 64))
    np.testing.assert_allclose(f.backward(x, g, np.random.default_rng(7)), _numeric_vjp(f, x, g, 7), atol=1e-6)


def test_transforms_do_what_they_say():
    x = np.random.default_rng(0).random((5, 64)).astype(np.float32)
    q = transforms.bit_depth(2)(x)
    assert set(np.unique(np.round(q * 3, 5))) <= {0.0, 1.0, 2.0, 3.0} and q.dtype == x.dtype
    flat = np.full((1, 64), 0.3, np.float32)
    assert np.allclose(transforms.median_filter(IMG, 3)(flat), 0.3)  # a flat image is its own median
    spike = np.zeros((1, 64), np.float32)
    spike[0, 27] = 1.0
    assert transforms.median_filter(IMG, 3)(spike).max() == 0.0  # one bright pixel is removed
    s = transforms.random_shift(IMG, 1)(x, np.random.default_rng(0))
    assert s.shape == x.shape and abs(s.sum() - x.sum()) < x.sum()  # moved, mostly kept
    with pytest.raises(ValueError, match="bits"):
        transforms.bit_depth(0)
    with pytest.raises(ValueError, match="window"):
        transforms.median_filter(IMG, 0)


def test_rejection_is_no_success_and_counts_as_stopped():
    y = np.array([1, 2, 3])
    labels = np.array([REJECT, 5, 3])
    assert Misclassification()(labels, y).tolist() == [False, True, False]
    # scores of a rejecting system: K classes + the rejection as the last column
    s = np.array([[0.0, 0.0, 0.0, 1.0], [0.1, 0.8, 0.1, 0.0]])
    m = Misclassification(rejects=True).margin(s, np.array([0, 0]))
    assert m[0] > 0 and m[1] < 0  # rejected: far from success; wrong and accepted: success

    class Fixed:
        n_classes = 4

        def predict(self, x):
            return labels

    assert measure.robust_accuracy(Fixed(), None, y, np.arange(3)).values.tolist() == [1, 0, 1]
    assert measure.correct(Fixed(), None, y, np.arange(3)).values.tolist() == [0, 0, 1]


def _tiny(cfg):
    return replace(cfg, epochs=6, n_test=40, apgd_steps=6, restarts=1, transfer_steps=5, query_budget=30,
                   eps_curve=(0.1,))


MODULES = ["m0003", "m0010", "m0015"]


@pytest.fixture(scope="module", params=MODULES)
def defended_ctx(request):
    import importlib

    mod = importlib.import_module(f"atlaskb.defenses.mitigations.{request.param}")
    cfg = replace(_tiny(mod.QUICK), epochs=20, apgd_steps=20, restarts=2, **({"eot_samples": 2} if hasattr(mod.QUICK, "eot_samples") else {}))
    return mod, SeedContext(get_backend("numpy"), data.digits(), cfg, 0)


def _success(system, x_adv, ctx):
    return 1 - measure.robust_accuracy(system, x_adv, ctx.y_test, ctx.test_ids).mean


def test_adaptive_attack_is_at_least_as_strong_as_non_adaptive(defended_ctx):
    mod, ctx = defended_ctx
    non = E.baseline_white(ctx, 0.1).x_adv
    for name, system in mod.defended(ctx).items():
        ada = E.white_box_attack(ctx, f"adaptive:{name}", system, 0.1, _criterion(mod)).x_adv
        assert _success(system, ada, ctx) >= _success(system, non, ctx) - 0.05, name


def test_large_eps_drives_every_defended_system_to_zero(defended_ctx):
    """The adaptive attack reaches through every defense (BPDA/EOT, joint losses, exact
    gradients): at eps 0.5 nothing is robust, so no result rests on a hidden gradient."""
    mod, ctx = defended_ctx
    for name, system in mod.defended(ctx).items():
        out = E.white_box_attack(ctx, f"adaptive:{name}", system, 0.5, _criterion(mod))
        assert measure.robust_accuracy(system, out.x_adv, ctx.y_test, ctx.test_ids).mean <= 0.1, name
    base = E.baseline_white(ctx, 0.5)
    assert measure.robust_accuracy(E.baseline(ctx), base.x_adv, ctx.y_test, ctx.test_ids).mean <= 0.05


def _criterion(mod):
    return getattr(mod, "CRITERION", Misclassification())


def test_input_transform_uses_the_transforms_own_derivative():
    be = get_backend("numpy")
    ds = data.digits()
    from atlaskb.engine import train as T

    r = np.random.default_rng(0)
    net = T.train(be, mlp(64, (32,), 10, "relu", r), ds.x[:300], ds.y[:300], epochs=3, rng=r)
    med = InputTransform(Model(be, net), transforms.median_filter(IMG, 2))
    quant = InputTransform(Model(be, net), transforms.bit_depth(2))
    assert "own derivative" in med.approximation and "bpda-identity" in quant.approximation
    x, y = ds.x[300:305], ds.y[300:305]
    g, _ = med.gradient(x, y)
    g_in, _ = Model(be, net).gradient(med.transform(x), y)
    np.testing.assert_allclose(g, transforms.median_filter(IMG, 2).backward(x, g_in), atol=1e-6)


@pytest.mark.parametrize("mitigation", [f"AML.{m.upper()}" for m in MODULES])
def test_every_technique_runs_and_validates(mitigation):
    """All of a module's experiments at tiny budgets over two seeds: rows validate, every
    white-box row has an adaptive counterpart on the same defended system."""
    from atlaskb.defenses import get_mitigation

    mod = get_mitigation(mitigation)
    cfg = replace(_tiny(mod.QUICK), **({"eot_samples": 2} if hasattr(mod.QUICK, "eot_samples") else {}))
    doc = runner.run(runner.Request(mitigation, backend="numpy", seeds=2, config=cfg), progress=False,
                     names={})
    assert {r["technique"] for r in doc["results"]} == set(mod.EXPERIMENTS)
    white = [r for r in doc["results"] if r["technique"] == "AML.T0043.000"]
    for r in white:
        if not r["threat_model"]["adaptive"]:
            twin = r["attack"].replace("_nonadaptive_", "_adaptive_")
            assert any(w["attack"] == twin and w["threat_model"]["adaptive"] for w in white), r["attack"]
    assert any(r["threat_model"]["adaptive"] for r in white)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_adversarial_training_raises_robust_accuracy(backend):
    """`train(..., adversary=pgd_adversary(...))` trains on PGD inputs against the current
    weights: robust accuracy at the training eps rises well above normal training."""
    if backend == "torch":
        pytest.importorskip("torch")
    from atlaskb.defenses.attacks.gradient import PGD
    from atlaskb.engine import train as T

    be = get_backend(backend, "cpu")
    ds = data.digits()
    sp = data.split(ds, np.random.default_rng(0))
    x, y = ds.x[sp.train], ds.y[sp.train]
    xt, yt = ds.x[sp.test][:150], ds.y[sp.test][:150]
    acc = {}
    with runner.pinned_threads(backend):
        for name, adv in (("normal", None), ("pgd-at", T.pgd_adversary(be, 0.1, 5))):
            r = np.random.default_rng(3)
            net = T.train(be, mlp(64, (64,), 10, "relu", r), x, y, epochs=12, lr=3e-3, rng=r, adversary=adv)
            m = Model(be, net)
            out = PGD(steps=10)(m, xt, yt, ThreatModel("white-box", "linf", 0.1), np.random.default_rng(0))
            acc[name] = (m.predict(out.x_adv) == yt).mean()
    assert acc["pgd-at"] >= acc["normal"] + 0.15, acc


@pytest.fixture(scope="module")
def small_net():
    from atlaskb.engine import train as T

    be = get_backend("numpy")
    ds = data.digits()
    r = np.random.default_rng(0)
    net = T.train(be, mlp(64, (32,), 10, "relu", r), ds.x[:600], ds.y[:600], epochs=10, rng=r)
    return be, ds, net


def _fd(fn, x, h=1e-3):
    num = np.zeros_like(x)
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, j] = h
        num[:, j] = (fn((x + e).astype(np.float32)) - fn((x - e).astype(np.float32))) / (2 * h)
    return num


def test_detector_scores_have_the_gradients_they_claim(small_net):
    from atlaskb.defenses import detectors as D

    be, ds, net = small_net
    x = np.random.default_rng(1).random((3, 64)) * 0.8 + 0.1
    maha = D.Mahalanobis(be, net, ds.x[:600], ds.y[:600], 10)
    s, g = maha.value_and_grad(x.astype(np.float32))
    num = _fd(maha.value, x)
    assert np.abs(g - num).max() <= 0.01 * np.abs(num).max()
    lin = lambda z, r=None: (0.7 * z).astype(z.dtype)  # a smooth squeezer with a derivative
    lin.backward = lambda z, g, r=None: 0.7 * g
    sq = D.SqueezeDisagreement(be, net, {"scale": lin})
    s, g = sq.value_and_grad(x.astype(np.float32))
    num = _fd(sq.value, x)
    assert np.abs(g - num).max() <= 0.02 * np.abs(num).max()


def test_a_calibrated_detector_rejects_about_its_false_positive_rate(small_net):
    from atlaskb.defenses import detectors as D

    be, ds, net = small_net
    det = D.ScoreDetector(D.Mahalanobis(be, net, ds.x[:600], ds.y[:600], 10), "m").calibrate(ds.x[600:1000], 0.05)
    held_out = det.scores(ds.x[1000:])[:, 1] > 0.5
    assert 0.0 < held_out.mean() < 0.15
    noise = np.random.default_rng(0).random((50, 64)).astype(np.float32)
    assert (det.scores(noise)[:, 1] > 0.5).mean() > 0.9  # uniform noise is nothing like a digit
    with pytest.raises(ValueError, match="false-positive"):
        D.threshold_at_fpr(np.ones(5), 1.5)
    with pytest.raises(ValueError, match="validation"):
        D.threshold_at_fpr(np.ones(0), 0.05)
    with pytest.raises(RuntimeError, match="calibrate"):
        D.ScoreDetector(D.Mahalanobis(be, net, ds.x[:600], ds.y[:600], 10), "m").scores(ds.x[:3])
