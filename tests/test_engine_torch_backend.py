"""The torch backend agrees with the numpy one: logits, input and weight gradients,
training and Adam steps; on CUDA (skipped without a GPU, as on CI) it matches the CPU."""

from __future__ import annotations

import numpy as np
import pytest

from atlaskb.engine import flat_grads, flat_params, get_backend, mlp
from atlaskb.engine import train as T
from engine_support import digits, make_nets, random_data, randomize_biases


# ---- numpy vs torch ----------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["ce", "margin"])
@pytest.mark.parametrize("combine", ["mean-prob", "mean-logit", "sum"])
def test_numpy_and_torch_agree_on_logits_and_gradients(loss, combine):
    pytest.importorskip("torch")
    npb = get_backend("numpy", dtype="float64")
    tb = get_backend("torch", device="cpu", dtype="float64")
    nets = [randomize_biases(n, i) for i, n in enumerate(make_nets().values())]
    x, y = random_data(n=9, seed=7)
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
    nets = list(make_nets().values())
    x, y = random_data(n=8, seed=8)
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
    X, Y = random_data(n=40, seed=9)
    trained = [T.train(be, nets, X, Y, epochs=3, batch_size=16, lr=1e-2, seed=1) for be in (npb, tb)]
    for a, b in zip(*trained):
        for pa, pb in zip(flat_params([npb.bind(a)]), flat_params([npb.bind(b)])):
            np.testing.assert_allclose(pa, pb, rtol=0, atol=1e-8)


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
    nets = [randomize_biases(n, i) for i, n in enumerate(make_nets().values())]
    x, y = random_data(n=16, seed=3)
    gc = T.input_gradient(cpu, nets, x, y, "ce", "mean-prob")
    gg = T.input_gradient(gpu, nets, x, y, "ce", "mean-prob")
    assert gg.device.type == "cuda"
    np.testing.assert_allclose(cpu.to_numpy(gc), gpu.to_numpy(gg), atol=1e-8)
    X, Y = digits(200)
    trained = T.train(gpu, mlp(64, (16,), 10, "relu", np.random.default_rng(0)), X, Y, epochs=2, batch_size=50, seed=0)
    assert trained.meta["train_loss"][-1] < trained.meta["train_loss"][0]
