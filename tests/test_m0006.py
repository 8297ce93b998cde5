"""AML.M0006's evidence answers the questions the issue asks (checked on a tiny config;
the full config's budgets are checked as data): supply-chain sweep with a shared-toolchain
row, rows against every baseline, an adaptive row at least as strong as the non-adaptive
one, a diversity-trained arm, the eps curve reaching ~0 robust accuracy for every system,
and fingerprinting with ensembles in the attacker's library."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from atlaskb.defenses import config as cfg_mod
from atlaskb.defenses import runner
from atlaskb.defenses.diversity import adp_value_and_grad
from atlaskb.defenses.mitigations import m0006

TINY = replace(m0006.QUICK, epochs=4, n_test=40, apgd_steps=5, apgd_restarts=2, eps_curve=(0.1, 0.6),
               select_steps=2, query_budget=40, shadow_per_family=2, shadow_ensembles_per_family=1,
               targets_per_family=2, probes=6, fingerprint_epochs=2, fingerprint_train=60)


@pytest.fixture(scope="module")
def doc():
    return runner.run(runner.Request("AML.M0006", ["AML.T0010.001", "AML.T0010.003", "AML.T0043.000", "AML.T0043.002",
                                                   "AML.T0043.004"], backend="numpy", seeds=2, config=TINY),
                      progress=False, names={})


def _rows(doc, technique):
    return [r for r in doc["results"] if r["technique"] == technique]


def test_full_mode_budgets_meet_the_contract():
    full = cfg_mod.mode_config(m0006, False)
    assert full.apgd_restarts >= 5 and full.apgd_steps >= 100
    assert full.targets_per_family >= 30 and full.shadow_ensembles_per_family > 0
    assert cfg_mod.default_seeds(False) >= 10
    assert full.eps in full.eps_curve and max(full.eps_curve) >= 0.5


def test_supply_chain_sweeps_k_and_has_a_shared_toolchain_row(doc):
    n = len(m0006.models.member_specs((1, 8, 8)))
    rows = _rows(doc, "AML.T0010.001")
    asr = [r for r in rows if r["metric"] == "attack_success_rate"]
    assert sorted({r["params"]["k"] for r in asr}) == list(range(1, n + 1))
    shared = [r for r in asr if "shared" in r["attack"] and r["params"].get("shared")]
    assert len(shared) == 1 and shared[0].get("headline") is True
    pre = [r for r in _rows(doc, "AML.T0010.003") if r["metric"] == "attack_success_rate"]
    assert sorted(r["params"]["k"] for r in pre) == list(range(1, n + 1))
    assert [r["params"]["k"] for r in pre if r.get("headline")] == [1]


def test_white_box_rows_against_each_baseline_adaptive_and_diversity(doc):
    rows = _rows(doc, "AML.T0043.000")
    adaptive = [r for r in rows if r["attack"] == "apgd_linf_adaptive"]
    assert {r["params"]["baseline"] for r in adaptive} == {"strongest", *m0006.BASELINES}
    assert all(r["threat_model"]["adaptive"] is True for r in adaptive)
    head = [r for r in rows if r.get("headline")]
    assert len(head) == 1 and head[0]["params"]["baseline"] == "strongest"
    assert head[0]["params"]["restarts"] == TINY.apgd_restarts and head[0]["params"]["steps"] == TINY.apgd_steps
    # the strongest baseline is at least as robust as each one, seed by seed
    per = head[0]["params"]["per_seed"]["baseline"]
    for r in adaptive:
        assert all(s >= v - 1e-9 for s, v in zip(per, r["params"]["per_seed"]["baseline"]))
    non = next(r for r in rows if r["attack"] == "apgd_linf_nonadaptive")
    assert non["threat_model"]["adaptive"] is False
    assert head[0]["defended"] <= non["defended"] + 1e-9  # adaptive success >= non-adaptive
    div = [r for r in rows if "adp" in str(r["params"].get("defended", ""))]
    assert len(div) == 1 and div[0]["threat_model"]["adaptive"] is True
    top = max(TINY.eps_curve)
    last = next(r for r in rows if r["attack"] == f"apgd_linf_adaptive_eps_{top:g}")
    assert last["baseline"] <= 0.05 and last["defended"] <= 0.05
    for name, fig in last["params"]["extra"].items():
        assert fig["mean"] <= 0.05, name


def test_transfer_has_the_diversity_arm_and_members_alone(doc):
    rows = _rows(doc, "AML.T0043.002")
    assert any("adp" in str(r["params"].get("defended", "")) for r in rows)
    assert any(k.startswith("member_") for k in rows[0]["params"]["extra"])


def test_backdoor_headline_is_equal_exposure(doc):
    rows = _rows(doc, "AML.T0043.004")
    head = [r for r in rows if r.get("headline")]
    assert len(head) == 1 and "equal" in head[0]["params"]["exposure"]
    assert any("partitioned" in r["attack"] for r in rows)


def test_adp_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 4, 10))
    y = rng.integers(0, 10, 4)
    _, g = adp_value_and_grad(z, y, 2.0, 0.5)
    for k, n, j in [(0, 0, 1), (1, 2, 5), (2, 3, 9), (0, 1, int(y[1]))]:
        e = np.zeros_like(z)
        e[k, n, j] = 1e-6
        up = -adp_value_and_grad(z + e, y, 2.0, 0.5)[0].sum()
        down = -adp_value_and_grad(z - e, y, 2.0, 0.5)[0].sum()
        assert (up - down) / 2e-6 == pytest.approx(g[k, n, j], rel=1e-4, abs=1e-7)
