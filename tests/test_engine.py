"""The engine's contract: hand-derived numpy gradients are right (finite differences),
the numpy and torch backends agree, device selection is predictable, models round-trip
without pickles, and training is deterministic. Fast: a few seconds in all."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from atlaskb.engine import (
    Act,
    AvgPool2,
    Conv2d,
    Dense,
    Flatten,
    Network,
    ToImage,
    convnet,
    flat_grads,
    flat_params,
    get_backend,
    mlp,
    resolve_device,
)
from atlaskb.engine import train as T
from atlaskb.errors import AtlasError, UsageError


def _nets():
    """One of each layer type: relu/tanh MLPs and a conv/pool net on an odd-sized image
    (so the pool's dropped last row/column is exercised)."""
    conv = Network.create([ToImage(2, 5, 7), Conv2d(2, 3, 3), Act("tanh"), AvgPool2(), Flatten(),
                           Dense(3 * 2 * 3, 4)], np.random.default_rng(3), "conv")
    return {
        "relu": mlp(70, (9, 7), 4, "relu", np.random.default_rng(1)),
        "tanh": mlp(70, (6,), 4, "tanh", np.random.default_rng(2)),
        "conv": conv,
    }


def _data(n=6, d=70, k=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, size=(n, d)), rng.integers(0, k, size=n)


def _randomize_biases(net, seed):
    """Non-zero biases so their gradients are tested too."""
    rng = np.random.default_rng(seed)
    for p in net.params:
        if "b" in p:
            p["b"] = rng.normal(0, 0.3, size=p["b"].shape).astype(np.float32)
    return net


def _fd_check(f, x, analytic, n_coords=12, eps=1e-6, seed=0):
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


# ---- numpy gradients vs finite differences (float64) --------------------------------------

@pytest.mark.parametrize("kind", ["relu", "tanh", "conv"])
def test_numpy_weight_and_input_gradients_match_finite_differences(kind):
    be = get_backend("numpy", dtype="float64")
    net = _randomize_biases(_nets()[kind], 5)
    b = be.bind(net, trainable=True)
    x, y = _data()

    def loss():
        return float(T.softmax_cross_entropy(be, be.logits([b], x)[0], y)[0])

    outs, tape = be.forward([b], x, wrt=("input", "params"))
    _, g = T.softmax_cross_entropy(be, outs[0], y)
    gx, gp = be.backward(tape, [g])
    _fd_check(loss, x, gx)
    for li, p in enumerate(b.params):
        for k, arr in p.items():
            _fd_check(loss, arr, gp[0][li][k], seed=li)


@pytest.mark.parametrize("loss", ["ce", "margin"])
@pytest.mark.parametrize("combine", ["mean-prob", "mean-logit", "sum"])
def test_numpy_ensemble_input_gradient_matches_finite_differences(loss, combine):
    be = get_backend("numpy", dtype="float64")
    bounds = [be.bind(_randomize_biases(n, i)) for i, n in enumerate(_nets().values())]
    x, y = _data(seed=4)

    def total():
        outs = be.logits(bounds, x)
        return float(np.sum(T.attack_loss(be, outs, y, loss, combine)[0]))

    gx, per = T.input_gradient(be, bounds, x, y, loss=loss, combine=combine, return_loss=True)
    assert per.shape == (len(y),)
    _fd_check(total, x, gx, n_coords=30)


def test_loss_gradient_and_values():
    be = get_backend("numpy", dtype="float64")
    z, y = np.random.default_rng(0).normal(size=(5, 4)) * 3, np.array([0, 1, 2, 3, 0])
    loss, g = T.softmax_cross_entropy(be, z, y)
    ref = -np.mean(z[np.arange(5), y] - np.log(np.exp(z).sum(1)))
    assert np.isclose(loss, ref)
    _fd_check(lambda: float(T.softmax_cross_entropy(be, z, y)[0]), z, g, n_coords=20)
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


# ---- numpy vs torch ----------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["ce", "margin"])
@pytest.mark.parametrize("combine", ["mean-prob", "mean-logit", "sum"])
def test_numpy_and_torch_agree_on_logits_and_gradients(loss, combine):
    pytest.importorskip("torch")
    npb = get_backend("numpy", dtype="float64")
    tb = get_backend("torch", device="cpu", dtype="float64")
    nets = [_randomize_biases(n, i) for i, n in enumerate(_nets().values())]
    x, y = _data(n=9, seed=7)
    bn, bt = [npb.bind(n) for n in nets], [tb.bind(n) for n in nets]
    for zn, zt in zip(npb.logits(bn, x), tb.logits(bt, tb.asarray(x))):
        np.testing.assert_allclose(zn, tb.to_numpy(zt), rtol=0, atol=1e-6)
    gn, ln = T.input_gradient(npb, bn, x, y, loss, combine, return_loss=True)
    gt, lt = T.input_gradient(tb, bt, tb.asarray(x), tb.asarray(y), loss, combine, return_loss=True)
    np.testing.assert_allclose(gn, tb.to_numpy(gt), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ln, tb.to_numpy(lt), rtol=0, atol=1e-6)


def test_numpy_and_torch_agree_on_weight_gradients_and_training():
    pytest.importorskip("torch")
    npb = get_backend("numpy", dtype="float64")
    tb = get_backend("torch", device="cpu", dtype="float64")
    nets = list(_nets().values())
    x, y = _data(n=8, seed=8)
    grads = []
    for be in (npb, tb):
        bounds = [be.bind(n, trainable=True) for n in nets]
        outs, tape = be.forward(bounds, be.asarray(x), wrt=("params",))
        glog = [T.softmax_cross_entropy(be, z, be.asarray(y))[1] for z in outs]
        _, gp = be.backward(tape, glog)
        grads.append([be.to_numpy(g) for g in flat_grads(gp)])
        assert len(flat_grads(gp)) == len(flat_params(bounds))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-8)
    X, Y = _data(n=40, seed=9)
    trained = [T.train(be, nets, X, Y, epochs=3, batch_size=16, lr=1e-2, seed=1) for be in (npb, tb)]
    for a, b in zip(*trained):
        for pa, pb in zip(flat_params([npb.bind(a)]), flat_params([npb.bind(b)])):
            np.testing.assert_allclose(pa, pb, rtol=0, atol=1e-8)


# ---- device selection --------------------------------------------------------------------

@pytest.mark.parametrize("requested,cuda,expected", [
    ("auto", True, "cuda"), ("auto", False, "cpu"), ("cpu", True, "cpu"), ("cpu", False, "cpu"),
    ("cuda", True, "cuda"), ("CUDA", True, "cuda"), ("cuda:1", True, "cuda:1"), (None, False, "cpu"),
])
def test_resolve_device(requested, cuda, expected):
    assert resolve_device(requested, cuda) == expected


@pytest.mark.parametrize("requested", ["cuda", "cuda:0"])
def test_cuda_requested_without_cuda_is_a_usage_error(requested):
    with pytest.raises(UsageError, match="no CUDA device"):
        resolve_device(requested, False)


def test_unknown_names_are_usage_errors():
    for call in (lambda: resolve_device("tpu", True), lambda: get_backend("jax"),
                 lambda: get_backend("numpy", dtype="float16"),
                 lambda: get_backend("numpy", device="cuda")):
        with pytest.raises(UsageError):
            call()
    assert get_backend("numpy", device="auto").device == "cpu"


def test_torch_missing_tells_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(UsageError, match=r"pip install 'atlaskb\[torch\]'"):
        get_backend("torch")


def test_engine_import_does_not_import_torch():
    code = ("import sys, atlaskb.engine, atlaskb.engine.train; "
            "b = atlaskb.engine.get_backend('numpy'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_torch_backend_device_follows_resolution():
    torch = pytest.importorskip("torch")
    be = get_backend("torch", device="auto")
    assert be.device == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA device"):
            get_backend("torch", device="cuda")


# ---- serialization -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["relu", "conv"])
def test_save_load_round_trip(tmp_path, kind):
    net = _nets()[kind]
    net.meta = {"seed": 3, "note": "x"}
    path = tmp_path / "m.npz"
    net.save(str(path))
    back = Network.load(str(path))
    assert back.layers == net.layers and back.family == net.family and back.meta == net.meta
    for a, b in zip(net.params, back.params):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
            assert a[k].dtype == b[k].dtype


def test_safetensors_round_trip(tmp_path):
    pytest.importorskip("safetensors")
    net = convnet((1, 8, 8), 10, np.random.default_rng(1))
    net.save(str(tmp_path / "m.safetensors"))
    back = Network.load(str(tmp_path / "m.safetensors"))
    assert back.layers == net.layers
    np.testing.assert_array_equal(back.params[-1]["W"], net.params[-1]["W"])


def test_pickled_files_are_refused(tmp_path):
    net = mlp(4, (3,), 2, "relu", np.random.default_rng(0))
    arrays = {f"p{i}.{k}": v for i, p in enumerate(net.params) for k, v in p.items()}
    # An .npz whose spec is an object array (stored as a pickle by numpy).
    evil = tmp_path / "evil.npz"
    np.savez(evil, spec=np.array([{"layers": []}], dtype=object), **arrays)
    with pytest.raises(AtlasError, match="not a model file"):
        Network.load(str(evil))
    # A plain pickle renamed .npz.
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps({"spec": "x"}))
    with pytest.raises(AtlasError, match="not a model file"):
        Network.load(str(raw))
    with pytest.raises(AtlasError, match="not found"):
        Network.load(str(tmp_path / "missing.npz"))


def test_weights_that_do_not_match_the_spec_are_refused(tmp_path):
    net = mlp(4, (3,), 2, "relu", np.random.default_rng(0))
    net.params[0]["W"] = net.params[0]["W"][:, :2]
    net.save(str(tmp_path / "bad.npz"))
    with pytest.raises(AtlasError, match="expected"):
        Network.load(str(tmp_path / "bad.npz"))


# ---- training ----------------------------------------------------------------------------

def _digits(n=600):
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data[:n] / 16.0).astype(np.float32), d.target[:n]


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
    X, y = _digits()
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
    X, y = _digits(300)
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
    X, y = _digits(120)
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
    X, _ = _digits(20)
    nets = [mlp(64, (8,), 10, "relu", np.random.default_rng(i)) for i in range(3)]
    p = T.predict_proba(be, nets, X)
    assert p.shape == (20, 10) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert np.array_equal(T.predict(be, nets, X), p.argmax(1))
    assert T.logits(be, nets, X, batch_size=7).shape == (3, 20, 10)


def test_adam_is_the_same_on_both_backends():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    p0, g0 = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    results = []
    for be in (get_backend("numpy", dtype="float64"), get_backend("torch", dtype="float64")):
        p, state = [be.asarray(p0.copy())], {}
        for _ in range(3):
            be.adam_step(p, [be.asarray(g0)], state, lr=0.1)
        results.append(be.to_numpy(p[0]))
    np.testing.assert_allclose(results[0], results[1], atol=1e-12)
    del torch


# ---- CUDA (skipped without a GPU, as on CI) ----------------------------------------------

def test_cuda_matches_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cpu = get_backend("torch", device="cpu", dtype="float64")
    gpu = get_backend("torch", device="cuda", dtype="float64")
    assert gpu.device.startswith("cuda")
    nets = [_randomize_biases(n, i) for i, n in enumerate(_nets().values())]
    x, y = _data(n=16, seed=3)
    gc = T.input_gradient(cpu, nets, x, y, "ce", "mean-prob")
    gg = T.input_gradient(gpu, nets, x, y, "ce", "mean-prob")
    assert gg.device.type == "cuda"
    np.testing.assert_allclose(cpu.to_numpy(gc), gpu.to_numpy(gg), atol=1e-8)
    X, Y = _digits(200)
    trained = T.train(gpu, mlp(64, (16,), 10, "relu", np.random.default_rng(0)), X, Y, epochs=2, batch_size=50, seed=0)
    assert trained.meta["train_loss"][-1] < trained.meta["train_loss"][0]


def test_backend_info_for_provenance():
    info = get_backend("numpy", dtype="float64").info()
    assert info["backend"] == "numpy" and info["device"] == "cpu" and info["dtype"] == "float64"
    assert info["numpy"] == np.__version__
