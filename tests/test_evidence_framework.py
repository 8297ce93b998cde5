"""The evidence framework: attacks behind one interface (checked over attacks x backends),
systems, paired statistics whose intervals never collapse, a validator that can fail,
mitigation modules discovered and checked against the knowledge base's links."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

from atlaskb.defenses import check_module, data, list_mitigations, registry, results, rows, runner, stats
from atlaskb.defenses.attacks import AccessDenied
from atlaskb.defenses.attacks.blind import Edit, Transfer
from atlaskb.defenses.attacks.gradient import APGD, PGD, checkpoints
from atlaskb.defenses.attacks.query import Boundary, HopSkipJump, RayS, SimBA
from atlaskb.defenses.systems import Ensemble, InputTransform, Model, PostProcessed, Rejecting
from atlaskb.defenses.threat import Misclassification, TargetedMisclassification, ThreatModel
from atlaskb.engine import get_backend
from atlaskb.engine import train as T
from atlaskb.engine.network import mlp

BACKENDS = ["numpy", "torch"]


def _backend(name):
    if name == "torch":
        pytest.importorskip("torch")
    return get_backend(name, "cpu")


@pytest.fixture(scope="module")
def nets():
    """Two small networks trained once on digits (numpy); every backend binds the same weights."""
    be = get_backend("numpy")
    ds = data.digits()
    sp = data.split(ds, np.random.default_rng(0))
    out = []
    for i, act in enumerate(("relu", "tanh")):
        r = np.random.default_rng(10 + i)
        net = mlp(64, (48,), 10, act, r)
        out.append(T.train(be, net, ds.x[sp.train], ds.y[sp.train], epochs=8, lr=3e-3, rng=r))
    x, y = ds.x[sp.test][:60], ds.y[sp.test][:60]
    return out, x, y, ds.x[sp.attacker]


class Spy:
    """A system that records what the attacker asked for."""

    def __init__(self, inner):
        self.inner, self.n_classes, self.losses = inner, inner.n_classes, inner.losses
        self.rows = {"scores": 0, "predict": 0, "gradient": 0}

    def scores(self, x):
        self.rows["scores"] += len(x)
        return self.inner.scores(x)

    def predict(self, x):
        self.rows["predict"] += len(x)
        return self.inner.predict(x)

    def gradient(self, x, y, loss="ce", rng=None):
        self.rows["gradient"] += len(x)
        return self.inner.gradient(x, y, loss, rng)


def _attacks(pool, surrogate):
    eps = 0.1
    return {
        "pgd": (PGD(steps=10), ThreatModel("white-box", "linf", eps)),
        "apgd": (APGD(steps=20, restarts=2), ThreatModel("white-box", "linf", eps, adaptive=True)),
        "simba": (SimBA(), ThreatModel("scores", "linf", eps, 60)),
        "boundary": (Boundary(pool), ThreatModel("labels", "l2", 2.0, 60)),
        "rays": (RayS(), ThreatModel("labels", "linf", 0.15, 60)),
        "hopskipjump": (HopSkipJump(pool), ThreatModel("labels", "linf", 0.2, 200)),
        "transfer": (Transfer(surrogate, PGD(steps=10)), ThreatModel("none", "linf", eps)),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["pgd", "apgd", "simba", "boundary", "rays", "hopskipjump", "transfer"])
def test_every_attack_stays_inside_its_threat_model(nets, backend, name):
    be = _backend(backend)
    (n0, n1), x, y, pool = nets
    target = Model(be, n0)
    attack, tm = _attacks(pool, Model(be, n1))[name]
    spy = Spy(target)
    out = attack(spy, x, y, tm, np.random.default_rng(0))
    assert out.x_adv.shape == x.shape and out.x_adv.min() >= 0 and out.x_adv.max() <= 1
    assert (tm.distance(out.x_adv, x) <= tm.eps + 1e-5).all()
    np.testing.assert_array_equal(out.success, target.predict(out.x_adv) != y)
    if tm.queries:
        assert (out.queries <= tm.queries).all()
    # what the attacker may see: label-only never sees scores or gradients; score-based
    # no gradients; no-access attacks nothing but the final judgement (not the attacker's)
    if tm.knowledge == "labels":
        assert spy.rows["scores"] == 0 and spy.rows["gradient"] == 0
    if tm.knowledge == "scores":
        assert spy.rows["gradient"] == 0
        assert spy.rows["scores"] <= tm.queries * len(x)
    if tm.knowledge == "none":
        assert spy.rows["scores"] == 0 and spy.rows["gradient"] == 0
        assert spy.rows["predict"] == len(x)  # the judge's one look
    if tm.knowledge == "labels":
        assert spy.rows["predict"] <= tm.queries * len(x) + len(x)
    assert out.success.mean() > 0.05, "the attack never succeeds: it measures nothing"


@pytest.mark.parametrize("backend", BACKENDS)
def test_access_refuses_what_the_threat_model_does_not_give(nets, backend):
    be = _backend(backend)
    (n0, _), x, y, _ = nets
    with pytest.raises(ValueError, match="white-box"):
        PGD(steps=2)(Model(be, n0), x, y, ThreatModel("scores", "linf", 0.1, 10), np.random.default_rng(0))
    from atlaskb.defenses.attacks import Access

    a = Access(Model(be, n0), ThreatModel("labels", "l2", 1.0, 10))
    with pytest.raises(AccessDenied):
        a.scores(x)
    with pytest.raises(AccessDenied):
        a.gradient(x, y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adaptive_attack_is_at_least_as_strong_as_non_adaptive(nets, backend):
    be = _backend(backend)
    (n0, n1), x, y, _ = nets
    ens = Ensemble(be, [n0, n1])
    tm = ThreatModel("white-box", "linf", 0.08)
    rng = np.random.default_rng(1)
    non = PGD(steps=10)(ens.member(0), x, y, tm, rng)  # crafted on one member, sent to the ensemble
    non_success = (ens.predict(non.x_adv) != y).mean()
    ada = APGD(steps=20, restarts=2, losses=("ce", "member-ce"))(ens, x, y, tm.with_(adaptive=True), rng)
    assert ada.success.mean() >= non_success


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("attack", [PGD(steps=20), APGD(steps=30, restarts=1)])
def test_large_eps_drives_an_undefended_model_to_zero(nets, backend, attack):
    """No masked gradients: with eps 0.5 every input can be turned into another digit."""
    be = _backend(backend)
    (n0, _), x, y, _ = nets
    out = attack(Model(be, n0), x, y, ThreatModel("white-box", "linf", 0.5), np.random.default_rng(0))
    assert (Model(be, n0).predict(out.x_adv) == y).mean() <= 0.05


def test_numpy_and_torch_agree(nets):
    pytest.importorskip("torch")
    (n0, _), x, y, _ = nets
    tm = ThreatModel("white-box", "linf", 0.1)
    acc = {}
    for name in BACKENDS:
        m = Model(get_backend(name, "cpu"), n0)
        out = PGD(steps=10)(m, x, y, tm, np.random.default_rng(0))
        acc[name] = (m.predict(out.x_adv) == y).mean()
        g, _ = m.gradient(x[:5], y[:5])
        acc[name + "-grad"] = g
    assert abs(acc["numpy"] - acc["torch"]) <= 0.04
    np.testing.assert_allclose(acc["numpy-grad"], acc["torch-grad"], rtol=1e-3, atol=1e-5)


def test_targeted_criterion_and_margin(nets):
    (n0, _), x, y, _ = nets
    m = Model(get_backend("numpy"), n0)
    crit = TargetedMisclassification(3)
    out = PGD(steps=20)(m, x, y, ThreatModel("white-box", "linf", 0.3), np.random.default_rng(0), crit)
    assert (m.predict(out.x_adv)[out.success] == 3).all() and out.success.mean() > 0.5
    s = m.scores(x)
    assert ((Misclassification().margin(s, y) <= 0) == (s.argmax(1) != y)).all()


def test_wrappers_are_systems_with_their_approximation(nets):
    be = get_backend("numpy")
    (n0, n1), x, y, _ = nets
    base = Model(be, n0)
    quant = InputTransform(base, lambda z, r: np.round(z * 4) / 4, name="quantise")
    assert not quant.differentiable and "bpda" in quant.approximation
    out = PGD(steps=10)(quant, x, y, ThreatModel("white-box", "linf", 0.2, adaptive=True), np.random.default_rng(0))
    assert out.success.mean() > 0.3  # BPDA gets through a quantiser
    det = Rejecting(base, Ensemble(be, [n1]), threshold=2.0)  # never fires: same answers as base
    np.testing.assert_array_equal(det.predict(x), base.predict(x))
    top1 = PostProcessed(base, lambda s: np.eye(s.shape[1])[s.argmax(1)])
    np.testing.assert_array_equal(top1.predict(x), base.predict(x))
    maj = Ensemble(be, [n0, n1], "majority")
    assert not maj.differentiable and maj.gradient(x[:3], y[:3])[0].shape == (3, 64)


def test_threat_model_is_data_and_checked():
    tm = ThreatModel("scores", "linf", 0.1, 300, True)
    assert tm.as_dict() == {"knowledge": "scores", "norm": "linf", "eps": 0.1, "queries": 300, "adaptive": True}
    assert "300 queries" in tm.sentence()
    for bad in ({"knowledge": "psychic"}, {"knowledge": "none", "norm": "l7"},
                {"knowledge": "none", "eps": -1.0}, {"knowledge": "none", "queries": 1.5}):
        with pytest.raises(ValueError):
            ThreatModel(**bad)


def test_apgd_checkpoints_follow_the_paper():
    c = checkpoints(100)
    assert c[0] == 22 and c == sorted(c) and c[-1] <= 100


# ---- statistics ---------------------------------------------------------------------

@pytest.mark.parametrize("k", [0, 275])
def test_no_rate_interval_has_zero_width(k):
    hits = np.zeros(275, bool)
    hits[:k] = True
    a = stats.arm([stats.rate(hits)] * 3)
    lo, hi = a["ci95"]
    assert lo <= a["mean"] <= hi and hi - lo > 0.005
    d = stats.difference([stats.rate(hits, np.arange(275))] * 3, [stats.rate(hits, np.arange(275))] * 3)
    assert d["mean"] == 0 and d["ci95"][0] < 0 < d["ci95"][1]
    assert stats.verdict(d["ci95"], True) == "no clear difference"


def test_paired_difference_sees_what_unpaired_intervals_miss():
    """Both arms vary a lot across seeds but the defended arm is always 0.05 higher on the
    same points: the paired interval excludes 0, so the verdict is 'better'."""
    rng = np.random.default_rng(0)
    base, dfd = [], []
    for level in (0.3, 0.5, 0.7, 0.4, 0.6, 0.35, 0.55, 0.45, 0.65, 0.5):
        b = rng.random(400) < level
        d = b.copy()
        d[np.flatnonzero(~b)[:20]] = True  # 20 more points right, none lost
        base.append(stats.rate(b, np.arange(400)))
        dfd.append(stats.rate(d, np.arange(400)))
    A, B = stats.arm(base), stats.arm(dfd)
    assert A["ci95"][1] > B["ci95"][0]  # unpaired intervals overlap
    diff = stats.difference(base, dfd)
    assert diff["ci95"][0] > 0 and stats.verdict(diff["ci95"], True) == "better"
    assert stats.verdict(diff["ci95"], False) == "worse"


def test_aggregate_adds_difference_verdict_and_threat_model():
    tm = ThreatModel("white-box", "linf", 0.1, 0, True)
    per_seed = [[rows.row("a", "robust_accuracy", stats.rate([1, 0, 1, 1], [0, 1, 2, 3]),
                          stats.rate([1, 1, 1, 1], [0, 1, 2, 3]), tm, caveat="Small.")] for _ in range(3)]
    (r,) = rows.aggregate("AML.T0043.000", per_seed)
    assert r["threat_model"] == tm.as_dict() and r["verdict"] in ("better", "no clear difference")
    assert r["difference"]["mean"] == pytest.approx(0.25) and r["summary"].endswith("Small.")
    with pytest.raises(TypeError):
        rows.row("a", "accuracy", stats.rate([1]), stats.rate([1]), {"knowledge": "none"})


# ---- the validator fails when it should ----------------------------------------------

@pytest.fixture(scope="module")
def small_doc():
    cfg = __import__("dataclasses").replace(
        __import__("atlaskb.defenses.mitigations.m0006", fromlist=["QUICK"]).QUICK,
        epochs=3, n_test=30, apgd_steps=3, eps_curve=(0.1,), select_steps=2)
    return runner.run(runner.Request("AML.M0006", ["AML.T0043.000", "AML.T0043.003"], backend="numpy", seeds=2,
                                     config=cfg),
                      progress=False, names={})


def _broken(doc, change):
    bad = json.loads(json.dumps(doc))
    change(bad["results"][0])
    return bad


@pytest.mark.parametrize("change, message", [
    (lambda r: r["ci95"].update(baseline=[r["baseline"], r["baseline"]]), "zero-width"),
    (lambda r: r.update(verdict="better" if r["verdict"] != "better" else "worse"), "verdict"),
    (lambda r: r["difference"].update(mean=r["difference"]["mean"] + 0.1), "not defended - baseline"),
    (lambda r: r.pop("threat_model"), "threat_model"),
    (lambda r: r["threat_model"].update(knowledge="psychic"), "knowledge"),
    (lambda r: r.update(baseline=1.5, ci95={"baseline": [1.4, 1.6], "defended": r["ci95"]["defended"]}), "rate"),
    (lambda r: r["ci95"].update(defended=[r["defended"] + 0.01, r["defended"] + 0.02]), "does not contain"),
])
def test_validator_catches_rows_that_do_not_add_up(small_doc, change, message):
    results.validate(small_doc)
    with pytest.raises(results.ResultsError, match=message):
        results.validate(_broken(small_doc, change))


def test_rows_carry_the_contract_fields(small_doc):
    for r in small_doc["results"]:
        assert {"difference", "verdict", "threat_model", "summary"} <= set(r)
        assert set(r["threat_model"]) == {"knowledge", "norm", "eps", "queries", "adaptive"}
    assert small_doc["provenance"]["quick"] is False


# ---- mitigation modules ------------------------------------------------------------

def test_every_module_accounts_for_every_link_in_the_bundled_vault(bundled_kb):
    from atlaskb import queries

    listed = list_mitigations(None)
    assert [e["mitigation"] for e in listed] == sorted(registry())
    for entry in listed:
        assert set(entry) == {"mitigation", "techniques", "not_measured", "description"}
        linked = {t["id"] for t in queries.techniques_for(bundled_kb, entry["mitigation"])}
        declared = set(entry["techniques"]) | {n["technique"] for n in entry["not_measured"]}
        assert declared == linked, entry["mitigation"]
        assert not set(entry["techniques"]) & {n["technique"] for n in entry["not_measured"]}


def test_a_module_missing_its_declarations_is_refused():
    from atlaskb.defenses import BadMitigationModule

    mod = types.ModuleType("atlaskb.defenses.mitigations.fake")
    mod.MITIGATION, mod.DESCRIPTION, mod.EXPERIMENTS = "AML.M9999", "x", {"AML.T0001": len}
    with pytest.raises(BadMitigationModule, match="NOT_MEASURED"):
        check_module(mod)
    mod.NOT_MEASURED = {"AML.T0001": "because"}
    with pytest.raises(BadMitigationModule, match="both measured and not"):
        check_module(mod)
    mod.NOT_MEASURED = {"AML.T0002": " "}
    with pytest.raises(BadMitigationModule, match="reason"):
        check_module(mod)


def test_threads_are_pinned_and_the_setting_is_checked(monkeypatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with runner.pinned_threads("torch") as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    monkeypatch.setenv("ATLASKB_THREADS", "2")
    with runner.pinned_threads("torch") as n:
        assert n == 2 and torch.get_num_threads() == 2
    monkeypatch.setenv("ATLASKB_THREADS", "lots")
    with pytest.raises(runner.UsageError, match="ATLASKB_THREADS"):
        with runner.pinned_threads("numpy"):
            pass


def test_edit_attack_needs_no_access(nets):
    (n0, _), x, y, _ = nets
    m = Model(get_backend("numpy"), n0)
    out = Edit(lambda z, r: 1 - z, "invert")(m, x, y, ThreatModel("none", "none"), np.random.default_rng(0))
    assert out.success.mean() > 0.5 and (out.queries == 1).all()


def test_quick_evidence_is_labelled_on_the_site_and_the_graph_is_untouched(tmp_path, small_doc):
    import copy

    import atlaskb
    from atlaskb.defenses import runner as R
    from atlaskb.site import build_site

    doc = json.loads(json.dumps(small_doc))
    doc["provenance"]["quick"] = True
    ev = tmp_path / "ev"
    R.write(doc, [], [], str(ev), names={})
    kb = atlaskb.load()
    before = copy.deepcopy([(u, v, k, dict(d)) for u, v, k, d in kb.graph.edges(keys=True, data=True)])
    build_site(kb, str(tmp_path / "site"), evidence_dir=str(ev))
    html = (tmp_path / "site" / "evidence" / "index.html").read_text(encoding="utf-8")
    assert "quick run: indicative" in html
    assert [(u, v, k, dict(d)) for u, v, k, d in kb.graph.edges(keys=True, data=True)] == before


def test_a_difference_of_rates_never_claims_more_than_minus_one_to_one():
    ids = np.arange(40)
    never = stats.rate(np.zeros(40, bool), ids)
    always = stats.rate(np.ones(40, bool), ids)
    d = stats.difference([always] * 3, [never] * 3, (-1.0, 1.0))
    assert d["mean"] == -1.0
    lo, hi = d["ci95"]
    assert lo == -1.0 and -1.0 < hi < 0  # clipped at the bound, still of non-zero width
    assert stats.difference([always] * 3, [never] * 3)["ci95"][0] < -1.0  # what the bound prevents
