"""AML.M0006 Use Ensemble Methods: one measured experiment for each technique it mitigates,
each asking the question an attacker would pose.

The defended system is a diverse ensemble (ReLU and tanh MLPs of different widths and
depths plus a small conv net, each with its own seed and bootstrap sample; soft vote, the
majority vote measured in its own right). A diversity-trained ensemble (ADP, Pang et al.
2019) is measured beside it. Fair baselines: one model with the same per-member budget,
one with the same total budget, and the best member alone; unless a row says otherwise
its baseline is, per seed, the strongest of the three under the same attack on the same
test points, so a gain is never one over a weak straw man. Every L-inf attack in a
comparison uses one eps; the adaptive white-box attack (APGD-style, several losses,
restarts) runs end to end through the defended system.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from atlaskb.defenses import ensemble, measure, models
from atlaskb.defenses import stats as S
from atlaskb.defenses.attacks import backdoor, compromised, manual
from atlaskb.defenses.attacks import fingerprint as fp
from atlaskb.defenses.attacks.blind import Edit, Transfer
from atlaskb.defenses.attacks.gradient import APGD, PGD
from atlaskb.defenses.attacks.query import RayS, SimBA
from atlaskb.defenses.mitigations import _evasion as E
from atlaskb.defenses.config import BaseConfig
from atlaskb.defenses.diversity import adp_regulariser
from atlaskb.defenses.rows import row
from atlaskb.defenses.systems import Ensemble, Model
from atlaskb.defenses.threat import TargetedMisclassification, ThreatModel

MITIGATION = "AML.M0006"
DESCRIPTION = (
    "Diverse ensemble (ReLU and tanh MLPs of different widths and depths plus a small conv "
    "net, each with its own seed and bootstrap sample; soft and majority vote) and an "
    "ADP diversity-trained ensemble, against the strongest of three single-model baselines "
    "(same per-member budget, same total budget, best member alone), one attack per "
    "technique ATLAS links to the mitigation, at one stated threat model per comparison."
)


@dataclass(frozen=True)
class Config(BaseConfig):
    bootstrap: bool = True
    diversity: float = 0.0            # > 0: members train jointly with negative correlation
    apgd_steps: int = 100
    apgd_restarts: int = 5            # the headline adaptive attack
    curve_restarts: int = 1           # each point of the eps curve
    eps_curve: tuple = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5)
    select_steps: int = 20            # PGD steps that pick the best member (attacker split)
    query_budget: int = 1000
    poison_frac: float = 0.05
    poisoned_members: int = 2         # partitioned case: members whose partition the poison reaches
    tool_poison_rate: float = 0.2
    target_class: int = 0
    adp_alpha: float = 2.0
    adp_beta: float = 0.5
    shadow_per_family: int = 12
    shadow_ensembles_per_family: int = 4
    probes: int = 24
    targets_per_family: int = 30
    fingerprint_epochs: int = 20
    fingerprint_train: int = 300      # training points of each fingerprinting model


FULL = Config()
QUICK = replace(FULL, epochs=30, n_test=300, apgd_steps=20, apgd_restarts=1, eps_curve=(0.05, 0.1, 0.3, 0.5),
                select_steps=10, query_budget=300, shadow_per_family=6, shadow_ensembles_per_family=2,
                probes=20, targets_per_family=4, fingerprint_epochs=10, fingerprint_train=200)



BASELINES = ("same_per_member_budget", "same_total_budget", "best_member")
STRONGEST = "strongest of " + ", ".join(BASELINES) + " (per seed, under the same attack)"


# ---- systems ------------------------------------------------------------------------

def n_members(ctx) -> int:
    return len(models.member_specs(ctx.image))


def members(ctx):
    return ctx.cached("m0006:members", lambda: ensemble.train_members(
        ctx.backend, ctx.x_train, ctx.y_train, ctx.n_classes, ctx.image, ctx.cfg, ctx.rng("members")))


def defended(ctx, vote: str = "soft") -> Ensemble:
    return ctx.cached(f"m0006:ensemble:{vote}", lambda: Ensemble(ctx.backend, members(ctx), vote))


def adp(ctx) -> Ensemble:
    """Members of the same architectures trained jointly with the ADP regulariser (same
    epochs per member: the same budget as the independently trained ensemble)."""
    return ctx.cached("m0006:adp", lambda: Ensemble(ctx.backend, ensemble.train_members(
        ctx.backend, ctx.x_train, ctx.y_train, ctx.n_classes, ctx.image, ctx.cfg, ctx.rng("adp"),
        regulariser=adp_regulariser(ctx.cfg.adp_alpha, ctx.cfg.adp_beta))))


def _single(ctx, budget_members: int, name: str, x=None, y=None, augment=None):
    x = ctx.x_train if x is None else x
    y = ctx.y_train if y is None else y
    return Model(ctx.backend, ensemble.train_baseline(ctx.backend, x, y, ctx.n_classes, ctx.image, ctx.cfg,
                                                      ctx.rng(name), budget_members, augment=augment))


def baseline(ctx, which: str) -> Ensemble:
    if which == "same_total_budget":
        return ctx.cached("m0006:base:total", lambda: _single(ctx, n_members(ctx), "baseline"))
    if which == "same_per_member_budget":
        return ctx.cached("m0006:base:member", lambda: _single(ctx, 1, "baseline-member"))
    if which == "best_member":
        return defended(ctx).member(best_member_index(ctx))
    raise ValueError(which)


def best_member_index(ctx) -> int:
    """The member most robust to PGD at eps on the attacker's split (never the test points),
    as a defender choosing one model by validation would pick it."""
    def pick():
        tm = ThreatModel("white-box", "linf", ctx.cfg.eps)
        acc = []
        for i in range(n_members(ctx)):
            m = defended(ctx).member(i)
            out = PGD(steps=ctx.cfg.select_steps)(m, ctx.x_att, ctx.y_att, tm, ctx.rng("select", i))
            acc.append(float(np.mean(m.predict(out.x_adv) == ctx.y_att)))
        return int(np.argmax(acc))
    return ctx.cached("m0006:best-member", pick)


def clean_accuracy(ctx) -> dict:
    return {"baseline": measure.correct(baseline(ctx, "same_per_member_budget"), ctx.x_test, ctx.y_test,
                                        ctx.test_ids),
            "defended": measure.correct(defended(ctx), ctx.x_test, ctx.y_test, ctx.test_ids)}


def _member_training(cfg) -> str:
    if cfg.diversity > 0:
        return f"joint, negative correlation (diversity {cfg.diversity:g})"
    return "independent, each on its own bootstrap sample" if cfg.bootstrap else "independent"


# ---- threat models ------------------------------------------------------------------

_white, _scores, _blind, _NONE = E.white, E.scores_tm, E.blind, E.NO_BUDGET


def _labels(ctx):
    """Label-only attacks here run at the same L-inf eps as every other attack (RayS)."""
    return ThreatModel("labels", "linf", ctx.cfg.eps, ctx.cfg.query_budget, True)


# ---- helpers ------------------------------------------------------------------------

def _robust(ctx, system, x_adv) -> S.Points:
    return measure.robust_accuracy(system, x_adv, ctx.y_test, ctx.test_ids)


def _first_success(ctx, system, *xs) -> np.ndarray:
    """Per test point, the first of the candidate inputs that `system` gets wrong (else the
    first): an attacker who knows the system sends whichever works."""
    out = xs[0].copy()
    wrong = system.predict(out) != ctx.y_test
    for x in xs[1:]:
        take = ~wrong & (system.predict(x) != ctx.y_test)
        out[take] = x[take]
        wrong |= take
    return out


def _strongest(per_baseline: dict) -> tuple[str, S.Points]:
    """The baseline with the highest robust accuracy (ties: the first in BASELINES)."""
    name = max(BASELINES, key=lambda b: (per_baseline[b].mean, -BASELINES.index(b)))
    return name, per_baseline[name]


def _apgd(ctx, restarts, losses):
    return APGD(steps=ctx.cfg.apgd_steps, restarts=restarts, losses=losses)


_ENSEMBLE_LOSSES = ("ce", "member-ce")
_SINGLE_LOSSES = ("ce", "margin")


def _white_x(ctx, name: str, system, eps: float, restarts: int, losses) -> np.ndarray:
    out = measure.run_attack(ctx, f"m0006:apgd:{name}:{eps:g}:{restarts}", system, _apgd(ctx, restarts, losses),
                             ctx.x_test, ctx.y_test, _white(ctx, eps))
    return out.x_adv


def _baseline_white(ctx, eps, restarts) -> dict:
    return {b: _robust(ctx, baseline(ctx, b), _white_x(ctx, b, baseline(ctx, b), eps, restarts, _SINGLE_LOSSES))
            for b in BASELINES}


def _nonadaptive_x(ctx, eps, restarts):
    """APGD crafted on member 0 alone, sent to the ensemble."""
    return _white_x(ctx, "member0", defended(ctx).member(0), eps, restarts, _SINGLE_LOSSES)


def _adaptive_x(ctx, system_name, eps, restarts):
    """End-to-end APGD on the system, plus (per point) the member-0 inputs when they work:
    the adaptive attacker knows everything the non-adaptive one does."""
    system = {"soft": defended(ctx), "majority": defended(ctx, "majority"), "adp": adp(ctx)}[system_name]
    own = _white_x(ctx, system_name, system, eps, restarts, _ENSEMBLE_LOSSES)
    extra = [_white_x(ctx, "soft", defended(ctx), eps, restarts, _ENSEMBLE_LOSSES)] if system_name == "majority" else []
    if system_name == "adp":
        return _first_success(ctx, system, own, _white_x(ctx, "adp-member0", system.member(0), eps, restarts,
                                                         _SINGLE_LOSSES))
    return _first_success(ctx, system, own, *extra, _nonadaptive_x(ctx, eps, restarts))


# ---- AML.T0043.000 white-box --------------------------------------------------------

def white_box(ctx):
    cfg = ctx.cfg
    R = cfg.apgd_restarts
    base = _baseline_white(ctx, cfg.eps, R)
    bname, bpts = _strongest(base)
    soft, maj, dv = defended(ctx), defended(ctx, "majority"), adp(ctx)
    x_ad = _adaptive_x(ctx, "soft", cfg.eps, R)
    x_na = _nonadaptive_x(ctx, cfg.eps, R)
    p = {"attack": "APGD-style (step-size schedule with checkpoints, momentum 0.75)", "steps": cfg.apgd_steps,
         "restarts": R, "losses_ensemble": list(_ENSEMBLE_LOSSES), "losses_single": list(_SINGLE_LOSSES),
         "defended": "independently trained ensemble, soft vote"}
    soft_pts = _robust(ctx, soft, x_ad)
    extra_all = {f"baseline_{b}": base[b] for b in BASELINES}
    rows = [row("apgd_linf_adaptive", "robust_accuracy", bpts, soft_pts, _white(ctx), headline=True,
                params={**p, "baseline": "strongest", "rule": STRONGEST}, info={"strongest_baseline": bname},
                extra={**extra_all, "defended_majority_vote": _robust(ctx, maj, _adaptive_x(ctx, "majority", cfg.eps, R)),
                       "defended_adp": _robust(ctx, dv, _adaptive_x(ctx, "adp", cfg.eps, R))},
                caveat="The baseline is, per seed, the most robust of three single models under the same attack.")]
    for b in BASELINES:
        rows.append(row("apgd_linf_adaptive", "robust_accuracy", base[b], soft_pts, _white(ctx),
                        params={**p, "baseline": b}))
    rows.append(row("apgd_linf_nonadaptive", "robust_accuracy", bpts, _robust(ctx, soft, x_na), _white(ctx, adaptive=False),
                    params={**p, "baseline": "strongest", "defended_attack": "APGD on member 0 alone, sent to the ensemble"},
                    caveat="The attacker ignores all members but one; the adaptive row is the one to believe."))
    rows.append(row("apgd_linf_adaptive_majority_vote", "robust_accuracy", bpts,
                    _robust(ctx, maj, _adaptive_x(ctx, "majority", cfg.eps, R)), _white(ctx),
                    params={**p, "baseline": "strongest", "defended": "majority vote, attacked in its own right "
                            "(BPDA through the soft vote, success judged on the majority vote)"}))
    rows.append(row("apgd_linf_adaptive_diversity_trained", "robust_accuracy", soft_pts,
                    _robust(ctx, dv, _adaptive_x(ctx, "adp", cfg.eps, R)), _white(ctx),
                    params={**p, "baseline": "independently trained ensemble (soft vote)",
                            "defended": f"adp (alpha {cfg.adp_alpha:g}, beta {cfg.adp_beta:g}), soft vote"},
                    extra={"clean_accuracy_independent": measure.correct(soft, ctx.x_test, ctx.y_test, ctx.test_ids),
                           "clean_accuracy_adp": measure.correct(dv, ctx.x_test, ctx.y_test, ctx.test_ids)},
                    caveat="Both arms are ensembles of the same architectures and budget; only the training differs."))
    # the eps curve: every system at every eps, one restart per point
    series = {"x_label": "epsilon (L-inf), APGD adaptive", "x": list(cfg.eps_curve), "baseline": [], "defended": []}
    for e in cfg.eps_curve:
        rr = cfg.curve_restarts
        be = _baseline_white(ctx, e, rr)
        _, bp = _strongest(be)
        dp = _robust(ctx, soft, _adaptive_x(ctx, "soft", e, rr))
        series["baseline"].append(bp)
        series["defended"].append(dp)
        rows.append(row(f"apgd_linf_adaptive_eps_{e:g}", "robust_accuracy", bp, dp, _white(ctx, e),
                        params={**p, "restarts": rr, "baseline": "strongest", "curve_point": e},
                        extra={**{f"baseline_{b}": be[b] for b in BASELINES},
                               "defended_majority_vote": _robust(ctx, defended(ctx, "majority"),
                                                                 _adaptive_x(ctx, "majority", e, rr)),
                               "defended_adp": _robust(ctx, dv, _adaptive_x(ctx, "adp", e, rr))}))
    rows[0]["series"] = series
    return rows


# ---- AML.T0043.001 query attacks ----------------------------------------------------

def _query(ctx, kind, name, system):
    attack, tm = (SimBA(), _scores(ctx)) if kind == "simba" else (RayS(), _labels(ctx))
    return measure.run_attack(ctx, f"m0006:{kind}:{name}", system, attack, ctx.x_test, ctx.y_test, tm)


def _query_rows(ctx, kind):
    x, y, ids = ctx.x_test, ctx.y_test, ctx.test_ids
    outs = {b: _query(ctx, kind, b, baseline(ctx, b)) for b in BASELINES}
    base = {b: _robust(ctx, baseline(ctx, b), outs[b].x_adv) for b in BASELINES}
    bname, bpts = _strongest(base)
    od = _query(ctx, kind, "soft", defended(ctx))
    om = _query(ctx, kind, "majority", defended(ctx, "majority"))
    tm = _scores(ctx) if kind == "simba" else _labels(ctx)
    p = ({"answers": "probabilities", "objective": "log-probability margin (no float32 saturation)"}
         if kind == "simba" else {"answers": "top label only", "attack": "RayS-style sign-direction search"})
    name = "simba_logprob_margin" if kind == "simba" else "rays_label_only"
    return [
        row(name, "robust_accuracy", bpts, _robust(ctx, defended(ctx), od.x_adv), tm, headline=kind == "simba",
            params={**p, "baseline": "strongest", "rule": STRONGEST}, info={"strongest_baseline": bname},
            extra={**{f"baseline_{b}": base[b] for b in BASELINES},
                   "defended_majority_vote": _robust(ctx, defended(ctx, "majority"), om.x_adv),
                   "success_rate_defended": measure.success_rate(defended(ctx), x, y, od, ids)}),
        row(name, "queries", measure.queries(baseline(ctx, bname), x, y, outs[bname], ids),
            measure.queries(defended(ctx), x, y, od, ids), tm,
            info={"strongest_baseline": bname},
            params={**p, "baseline": "strongest under this attack (per seed; see info)",
                    "queries": "mean per correctly classified input, capped at the budget (more is better for the "
                               "defender)"}),
    ]


def black_box(ctx):
    return _query_rows(ctx, "simba") + _query_rows(ctx, "rays")


# ---- AML.T0043.002 transfer ---------------------------------------------------------

def surrogate(ctx):
    def train():
        from atlaskb.engine import train as T

        r = ctx.rng("surrogate")
        net = models.build(models.SURROGATE_SPEC, ctx.x_att.shape[1], ctx.n_classes, ctx.image, r)
        return Model(ctx.backend, T.train(ctx.backend, net, ctx.x_att, ctx.y_att, epochs=ctx.cfg.epochs * 2,
                                          batch_size=ctx.cfg.batch, lr=ctx.cfg.lr, rng=r))
    return ctx.cached("m0006:surrogate", train)


def transfer_x(ctx, eps):
    attack = Transfer(surrogate(ctx), PGD(steps=max(20, ctx.cfg.apgd_steps // 2), restarts=1))
    return measure.run_attack(ctx, f"m0006:transfer:{eps:g}", surrogate(ctx), attack, ctx.x_test, ctx.y_test,
                              _blind(ctx, eps)).x_adv


def transfer(ctx):
    cfg = ctx.cfg
    soft, maj, dv = defended(ctx), defended(ctx, "majority"), adp(ctx)
    series = {"x_label": "epsilon (L-inf)", "x": list(cfg.eps_curve), "baseline": [], "defended": []}
    for e in cfg.eps_curve:
        xs = transfer_x(ctx, e)
        series["baseline"].append(_strongest({b: _robust(ctx, baseline(ctx, b), xs) for b in BASELINES})[1])
        series["defended"].append(_robust(ctx, soft, xs))
    xs = transfer_x(ctx, cfg.eps)
    base = {b: _robust(ctx, baseline(ctx, b), xs) for b in BASELINES}
    _, bpts = _strongest(base)
    member_pts = [_robust(ctx, soft.member(i), xs) for i in range(n_members(ctx))]
    p = {"surrogate": "mlp-relu (100), trained on the attacker's disjoint split", "inner_attack": "PGD",
         "eps_range": list(cfg.eps_curve), "member_training": _member_training(cfg)}
    return [
        row("transfer_pgd_from_surrogate", "robust_accuracy", bpts, _robust(ctx, soft, xs), _blind(ctx),
            headline=True, params={**p, "baseline": "strongest", "rule": STRONGEST,
                                   "defended": "independently trained ensemble, soft vote"},
            extra={**{f"baseline_{b}": base[b] for b in BASELINES},
                   "defended_majority_vote": _robust(ctx, maj, xs),
                   **{f"member_{i}_alone": pts for i, pts in enumerate(member_pts)}},
            series=series),
        row("transfer_pgd_from_surrogate_diversity_trained", "robust_accuracy", _robust(ctx, soft, xs),
            _robust(ctx, dv, xs), _blind(ctx),
            params={**p, "baseline": "independently trained ensemble (soft vote)",
                    "defended": f"adp (alpha {cfg.adp_alpha:g}, beta {cfg.adp_beta:g}), soft vote"},
            extra={f"adp_member_{i}_alone": _robust(ctx, dv.member(i), xs) for i in range(n_members(ctx))},
            caveat="The diversity-training literature's claim: members' weaknesses decorrelate, so transfer drops."),
    ]


# ---- AML.T0043.003 manual modification ------------------------------------------------

def _manual_x(ctx, name, fn):
    edit = Edit(lambda x, r: fn(x, ctx.image, r), name)
    return measure.run_attack(ctx, f"m0006:manual:{name}", surrogate(ctx), edit, ctx.x_test, ctx.y_test, _NONE).x_adv


def manual_modification(ctx):
    rows = []
    for name, fn in manual.MODIFICATIONS.items():
        x = _manual_x(ctx, name, fn)
        base = {b: _robust(ctx, baseline(ctx, b), x) for b in BASELINES}
        _, bpts = _strongest(base)
        rows.append(row(f"manual_{name}", "robust_accuracy", bpts, _robust(ctx, defended(ctx), x), _NONE,
                        headline=not rows, params={"model_access": "none", "baseline": "strongest"},
                        extra={**{f"baseline_{b}": base[b] for b in BASELINES},
                               "defended_majority_vote": _robust(ctx, defended(ctx, "majority"), x)}))
    return rows


# ---- training-time attacks: backdoor and supply chain ---------------------------------

def _trigger(ctx, system) -> S.Points:
    keep = ctx.y_test != ctx.cfg.target_class
    x = backdoor.add_trigger(ctx.x_test[keep], ctx.image)
    crit = TargetedMisclassification(ctx.cfg.target_class)
    return S.rate(crit(system.predict(x), ctx.y_test[keep]), ctx.test_ids[keep])


def _poison(ctx):
    cfg = ctx.cfg
    n_poison = max(1, int(round(cfg.poison_frac * len(ctx.y_train))))
    xp, yp = backdoor.poison_set(ctx.x_att, ctx.image, cfg.target_class, n_poison, ctx.rng("poison"))
    return xp, yp


def backdoor_trigger(ctx):
    cfg = ctx.cfg

    def equal():
        xp, yp = _poison(ctx)
        x, y = np.concatenate([ctx.x_train, xp]), np.concatenate([ctx.y_train, yp])
        nets = ensemble.train_members(ctx.backend, x, y, ctx.n_classes, ctx.image, cfg, ctx.rng("members"))
        singles = {"same_per_member_budget": _single(ctx, 1, "baseline-member", x, y),
                   "same_total_budget": _single(ctx, n_members(ctx), "baseline", x, y)}
        return Ensemble(ctx.backend, nets), singles, len(yp)

    def partitioned():
        xp, yp = _poison(ctx)
        p = min(cfg.poisoned_members, n_members(ctx))
        poisoned = ensemble.train_members(ctx.backend, ctx.x_train, ctx.y_train, ctx.n_classes, ctx.image, cfg,
                                          ctx.rng("members"), extra={i: (xp, yp) for i in range(p)},
                                          specs=models.member_specs(ctx.image)[:p])
        return Ensemble(ctx.backend, poisoned + members(ctx)[p:]), p

    d, singles, n_poison = ctx.cached("m0006:poison:equal", equal)
    dpart, p = ctx.cached("m0006:poison:partitioned", partitioned)
    trig = {b: _trigger(ctx, s) for b, s in singles.items()}
    bname = min(trig, key=lambda b: (trig[b].mean, b))  # strongest: the least backdoored single model
    common = {"poisoned_samples": n_poison, "members": n_members(ctx), "target_class": cfg.target_class,
              "trigger": "2x2 bright corner square", "baseline": "strongest of same_per_member_budget, "
              "same_total_budget (the lower trigger success, per seed)"}
    return [
        row("poisoned_training_data", "attack_success_rate", trig[bname], _trigger(ctx, d), _NONE, headline=True,
            params={**common, "exposure": "equal: the poison sits in the training data every model draws from "
                                          "(members bootstrap from it)"},
            extra={**{f"baseline_{b}": v for b, v in trig.items()},
                   "defended_majority_vote": _trigger(ctx, d.with_vote("majority")),
                   "clean_accuracy_defended": measure.correct(d, ctx.x_test, ctx.y_test, ctx.test_ids)}),
        row("poisoned_training_data_partitioned", "attack_success_rate", trig[bname], _trigger(ctx, dpart), _NONE,
            params={**common, "poisoned_members": p,
                    "exposure": f"partitioned (extra case): the poison reaches only {p} members' partitions, "
                                "the baseline all of it"},
            caveat="Unequal exposure by construction: the ensemble sees less poison than the baseline."),
    ]


def _sweep_rows(ctx, attack, bad_members, base_model, how, headline_k):
    """Rows for k = 1..n compromised members (members 0..k-1 replaced by `bad_members`)."""
    n = n_members(ctx)
    good = members(ctx)
    base_pts = _trigger(ctx, base_model)
    series = {"x_label": "compromised members k (of %d)" % n, "x": list(range(1, n + 1)), "baseline": [],
              "defended": []}
    rows = []
    for k in range(1, n + 1):
        d = Ensemble(ctx.backend, list(bad_members[:k]) + list(good[k:]))
        pts = _trigger(ctx, d)
        series["baseline"].append(base_pts)
        series["defended"].append(pts)
        rows.append(row(attack, "attack_success_rate", base_pts, pts, _NONE, headline=k == headline_k,
                        params={"k": k, "members": n, "how": how, "target_class": ctx.cfg.target_class},
                        extra={"defended_majority_vote": _trigger(ctx, d.with_vote("majority"))}))
    return rows, series


def ai_software(ctx):
    """AML.T0010.001: a trojaned training tool. Headline: the shared toolchain (one tool
    builds every member, the realistic case); beside it, k of n members built with it."""
    cfg = ctx.cfg

    def compute():
        hook = compromised.trojaned_tool(ctx.image, cfg.target_class, cfg.tool_poison_rate)
        n = n_members(ctx)
        bad = ensemble.train_members(ctx.backend, ctx.x_train, ctx.y_train, ctx.n_classes, ctx.image, cfg,
                                     ctx.rng("members"), augment={i: hook for i in range(n)})
        base = _single(ctx, 1, "baseline-member", augment=hook)
        return bad, base

    bad, base = ctx.cached("m0006:trojaned-tool", compute)
    how = f"training tool poisons {cfg.tool_poison_rate:.0%} of each batch"
    rows, series = _sweep_rows(ctx, "trojaned_training_tool", bad, base, how, headline_k=None)
    shared = Ensemble(ctx.backend, bad)
    n = n_members(ctx)
    rows.insert(0, row("trojaned_training_tool_shared", "attack_success_rate", _trigger(ctx, base),
                       _trigger(ctx, shared), _NONE, headline=True, series=series,
                       params={"k": n, "shared": True, "members": n, "how": how + "; the one toolchain builds "
                               "every member", "baseline": "one model (same per-member budget) built with the tool"},
                       extra={"defended_majority_vote": _trigger(ctx, shared.with_vote("majority"))}))
    rows.append(row("trojaned_training_tool_shared_clean", "accuracy",
                    measure.correct(base, ctx.x_test, ctx.y_test, ctx.test_ids),
                    measure.correct(shared, ctx.x_test, ctx.y_test, ctx.test_ids), _NONE,
                    params={"shared": True, "measures": "clean test accuracy of the compromised systems"}))
    return rows


def pretrained_model(ctx):
    """AML.T0010.003: backdoored pre-trained weights (the attacker publishes one model per
    architecture). Headline: k = 1 of n members downloaded; the sweep beside it."""
    cfg = ctx.cfg

    def compute():
        specs = models.member_specs(ctx.image)
        return [compromised.backdoored_pretrained(
            ctx.backend, ctx.x_att, ctx.y_att, ctx.n_classes, ctx.image, target=cfg.target_class,
            rate=cfg.tool_poison_rate, epochs=cfg.epochs * 2, rng=ctx.rng("pretrained", i), spec=spec,
            batch=cfg.batch, lr=cfg.lr) for i, spec in enumerate(specs)]

    bad = ctx.cached("m0006:pretrained", compute)
    base = Model(ctx.backend, bad[0])
    rows, series = _sweep_rows(ctx, "backdoored_pretrained_weights", bad, base,
                               "pre-trained weights trained by the attacker with the trigger built in", headline_k=1)
    rows[0]["series"] = series
    rows.append(row("backdoored_pretrained_weights_clean", "accuracy",
                    measure.correct(base, ctx.x_test, ctx.y_test, ctx.test_ids),
                    measure.correct(Ensemble(ctx.backend, [bad[0]] + members(ctx)[1:]), ctx.x_test, ctx.y_test,
                                    ctx.test_ids), _NONE,
                    params={"k": 1, "measures": "clean test accuracy of the compromised systems"}))
    return rows


# ---- AML.T0014 fingerprinting -------------------------------------------------------

def family_discovery(ctx):
    """The attacker's shadow library holds single models and ensembles of each family
    (3 of 5 members of the family, one of each other); every target is built from fresh
    models. The single target is the first family model of the ensemble target beside it."""
    cfg, be = ctx.cfg, ctx.backend

    def model(fam, x, y, r):
        idx = r.choice(len(y), size=min(cfg.fingerprint_train, len(y)), replace=False)
        return fp.random_model(be, fam, x[idx], y[idx], ctx.n_classes, ctx.image, epochs=cfg.fingerprint_epochs,
                               rng=r, batch=cfg.batch, lr=cfg.lr)

    def ens(fam, fams, x, y, r):
        others = [f for f in fams if f != fam]
        return [model(fam, x, y, r) for _ in range(3)] + [model(o, x, y, r) for o in others]

    def compute():
        fams = fp.families(ctx.image)
        r = ctx.rng("fingerprint", "attacker")
        probes = fp.make_probes(ctx.x_att, cfg.probes, r)
        feats, labels = [], []
        for fi, fam in enumerate(fams):
            for _ in range(cfg.shadow_per_family):
                feats.append(fp.features(Model(be, model(fam, ctx.x_att, ctx.y_att, r)), probes))
                labels.append(fi)
            for _ in range(cfg.shadow_ensembles_per_family):
                feats.append(fp.features(Ensemble(be, ens(fam, fams, ctx.x_att, ctx.y_att, r)), probes))
                labels.append(fi)
        finger = fp.Fingerprinter(probes, fams).fit(np.array(feats), np.array(labels))
        rd = ctx.rng("fingerprint", "defender")
        single, multi = [], []
        for fam in fams:
            for _ in range(cfg.targets_per_family):
                nets = ens(fam, fams, ctx.x_train, ctx.y_train, rd)
                single.append(finger.identify(Model(be, nets[0])) == fam)
                multi.append(finger.identify(Ensemble(be, nets)) == fam)
        return np.array(single), np.array(multi), fams

    single, multi, fams = ctx.cached("m0006:fingerprint", compute)
    ids = np.arange(len(single))
    return [row("fingerprint_from_probe_answers", "identification_accuracy", S.rate(single, ids),
                S.rate(multi, ids), ThreatModel("scores", "none", 0.0, cfg.probes, True), headline=True,
                params={"families": fams, "shadow_models_per_family": cfg.shadow_per_family,
                        "shadow_ensembles_per_family": cfg.shadow_ensembles_per_family, "probes": cfg.probes,
                        "targets_per_family": cfg.targets_per_family, "fresh_models_per_target": True,
                        "defended_target": "ensemble of 3 members of the family + 1 of each other",
                        "chance": 1.0 / len(fams)},
                caveat="Lower is better for the defender: the attacker names the family less often.")]


# ---- worst cases: per input, one population, one threat model ---------------------------

def _union(ctx, system, xs) -> S.Points:
    ok = np.ones(len(ctx.y_test), bool)
    for x in xs:
        ok &= system.predict(x) == ctx.y_test
    return S.rate(ok, ctx.test_ids)


def _suite_x(ctx, which: str, white: bool) -> list:
    """Inputs from every L-inf attack at eps against one system: its own query attacks,
    the transfer attack, and (white-box) the adaptive APGD."""
    sys = baseline(ctx, which) if which in BASELINES else defended(ctx)
    xs = [_query(ctx, "simba", which, sys).x_adv, _query(ctx, "rays", which, sys).x_adv,
          transfer_x(ctx, ctx.cfg.eps)]
    if white:
        xs.append(_white_x(ctx, which, sys, ctx.cfg.eps, ctx.cfg.apgd_restarts, _SINGLE_LOSSES)
                  if which in BASELINES else _adaptive_x(ctx, "soft", ctx.cfg.eps, ctx.cfg.apgd_restarts))
    return xs


def _worst(ctx, white: bool):
    base = {b: _union(ctx, baseline(ctx, b), _suite_x(ctx, b, white)) for b in BASELINES}
    _, bpts = _strongest(base)
    return bpts, _union(ctx, defended(ctx), _suite_x(ctx, "soft", white)), base


def craft_adversarial_data(ctx):
    b, d, base = _worst(ctx, white=True)
    return [row("worst_case_linf_per_input", "robust_accuracy", b, d, _white(ctx), headline=True,
                params={"over": ["apgd adaptive (white-box)", "simba log-prob margin (scores)", "rays (labels)",
                                 "transfer (none)"], "population": "every test input", "baseline": "strongest",
                        "rule": "per test input, robust only if no attack at this eps fools the system"},
                extra={f"baseline_{k}": v for k, v in base.items()},
                caveat="Training-time attacks (the backdoor) are measured under AML.T0043.004, at their own threat model.")]


def evade(ctx):
    b, d, base = _worst(ctx, white=False)
    return [row("strongest_black_box_evasion_per_input", "robust_accuracy", b, d, _scores(ctx), headline=True,
                params={"over": ["simba log-prob margin (scores)", "rays (labels)", "transfer (none)"],
                        "baseline": "strongest",
                        "rule": "per test input, robust only if no black-box attack at this eps fools the system"},
                extra={f"baseline_{k}": v for k, v in base.items()})]


def erode(ctx):
    """Accuracy of the deployed system when every test input is attacked by the black-box
    suite: measured directly on all inputs, not derived from a success rate."""
    b, d, base = _worst(ctx, white=False)
    return [row("black_box_attack_on_all_inputs", "accuracy", b, d, _scores(ctx), headline=True,
                params={"measures": "accuracy on every test input after the black-box suite at eps",
                        "baseline": "strongest"},
                extra={f"baseline_{k}": v for k, v in base.items()})]


EXPERIMENTS = {
    "AML.T0010.001": ai_software,
    "AML.T0010.003": pretrained_model,
    "AML.T0014": family_discovery,
    "AML.T0015": evade,
    "AML.T0031": erode,
    "AML.T0043": craft_adversarial_data,
    "AML.T0043.000": white_box,
    "AML.T0043.001": black_box,
    "AML.T0043.002": transfer,
    "AML.T0043.003": manual_modification,
    "AML.T0043.004": backdoor_trigger,
}
NOT_MEASURED: dict[str, str] = {}  # every technique ATLAS links to this mitigation has an experiment
