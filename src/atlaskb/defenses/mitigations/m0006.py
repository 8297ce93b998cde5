"""AML.M0006 Use Ensemble Methods: one measured experiment for each technique it mitigates.

The defended system is a diverse ensemble (ReLU and tanh MLPs of different widths and
depths plus a small conv net, each with its own seed and bootstrap sample; soft vote, with
the majority vote measured beside it). The baseline is one network trained for the
ensemble's whole budget. Every evasion row is scored on the same test points for both arms
at one stated threat model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from atlaskb.defenses import ensemble, measure, models
from atlaskb.defenses import stats as S
from atlaskb.defenses.attacks import backdoor, compromised, manual
from atlaskb.defenses.attacks import fingerprint as fp
from atlaskb.defenses.attacks.blind import Edit, Transfer
from atlaskb.defenses.attacks.gradient import PGD
from atlaskb.defenses.attacks.query import Boundary, SimBA
from atlaskb.defenses.config import BaseConfig
from atlaskb.defenses.rows import row
from atlaskb.defenses.systems import Ensemble, Model
from atlaskb.defenses.threat import TargetedMisclassification, ThreatModel

MITIGATION = "AML.M0006"
DESCRIPTION = (
    "Diverse ensemble (ReLU and tanh MLPs of different widths and depths plus a small conv "
    "net, each with its own seed and bootstrap training sample; soft and majority vote) "
    "compared with one model trained for the same total budget, against one attack per "
    "technique ATLAS says the mitigation addresses, at a stated threat model."
)
NOT_MEASURED: dict[str, str] = {}


@dataclass(frozen=True)
class Config(BaseConfig):
    bootstrap: bool = True
    diversity: float = 0.0           # > 0: members train jointly with negative correlation
    pgd_steps: int = 40
    transfer_eps: tuple = (0.05, 0.1, 0.15, 0.2, 0.3)
    query_budget: int = 1000
    boundary_l2: float = 1.5
    poison_frac: float = 0.05
    poisoned_members: int = 2
    tool_poison_rate: float = 0.2
    target_class: int = 0
    shadow_per_family: int = 12
    probes: int = 24
    targets_per_family: int = 6
    fingerprint_epochs: int = 30


FULL = Config()
QUICK = replace(FULL, epochs=30, n_test=300, pgd_steps=20, query_budget=300,
                shadow_per_family=6, targets_per_family=3, probes=20, fingerprint_epochs=15)


def config(quick: bool) -> Config:
    return QUICK if quick else FULL


# ---- systems ------------------------------------------------------------------------

def members(ctx):
    return ctx.cached("m0006:members", lambda: ensemble.train_members(
        ctx.backend, ctx.x_train, ctx.y_train, ctx.n_classes, ctx.image, ctx.cfg, ctx.rng("members")))


def n_members(ctx) -> int:
    return len(models.member_specs(ctx.image))


def baseline(ctx) -> Ensemble:
    return ctx.cached("m0006:baseline", lambda: Model(ctx.backend, ensemble.train_baseline(
        ctx.backend, ctx.x_train, ctx.y_train, ctx.n_classes, ctx.image, ctx.cfg, ctx.rng("baseline"),
        n_members(ctx))))


def defended(ctx, vote: str = "soft") -> Ensemble:
    return ctx.cached(f"m0006:ensemble:{vote}", lambda: Ensemble(ctx.backend, members(ctx), vote))


def clean_accuracy(ctx) -> dict:
    ids = ctx.test_ids
    return {"baseline": measure.correct(baseline(ctx), ctx.x_test, ctx.y_test, ids),
            "defended": measure.correct(defended(ctx), ctx.x_test, ctx.y_test, ids)}


def _member_training(cfg) -> str:
    if cfg.diversity > 0:
        return f"joint, negative correlation (diversity {cfg.diversity:g})"
    return "independent, each on its own bootstrap sample" if cfg.bootstrap else "independent"


# ---- threat models ------------------------------------------------------------------

def _white(ctx, adaptive):
    return ThreatModel("white-box", "linf", ctx.cfg.eps, 0, adaptive)


def _scores(ctx):
    return ThreatModel("scores", "linf", ctx.cfg.eps, ctx.cfg.query_budget, True)


def _labels(ctx):
    return ThreatModel("labels", "l2", ctx.cfg.boundary_l2, ctx.cfg.query_budget, True)


def _blind(ctx, eps=None):
    return ThreatModel("none", "linf", ctx.cfg.eps if eps is None else eps, 0, False)


# ---- evasion attacks (cached per seed) ----------------------------------------------

def _pgd(ctx, losses=("ce",)):
    return PGD(steps=ctx.cfg.pgd_steps, losses=losses)


def pgd_baseline(ctx):
    return measure.run_attack(ctx, "m0006:pgd:baseline", baseline(ctx), _pgd(ctx, ("ce", "member-ce")),
                              ctx.x_test, ctx.y_test, _white(ctx, True))


def pgd_nonadaptive(ctx):
    """PGD crafted on member 0 alone (the attacker ignores the rest of the ensemble)."""
    out = measure.run_attack(ctx, "m0006:pgd:member0", defended(ctx).member(0), _pgd(ctx),
                             ctx.x_test, ctx.y_test, _white(ctx, False))
    return out.x_adv


def pgd_adaptive(ctx):
    return measure.run_attack(ctx, "m0006:pgd:ensemble", defended(ctx), _pgd(ctx, ("ce", "member-ce")),
                              ctx.x_test, ctx.y_test, _white(ctx, True))


def simba(ctx, which):
    system = baseline(ctx) if which == "baseline" else defended(ctx)
    return measure.run_attack(ctx, f"m0006:simba:{which}", system, SimBA(), ctx.x_test, ctx.y_test, _scores(ctx))


def boundary(ctx, which):
    system = baseline(ctx) if which == "baseline" else defended(ctx)
    return measure.run_attack(ctx, f"m0006:boundary:{which}", system, Boundary(ctx.x_att),
                              ctx.x_test, ctx.y_test, _labels(ctx))


def surrogate(ctx):
    return ctx.cached("m0006:surrogate", lambda: Model(ctx.backend, _train_surrogate(ctx)))


def _train_surrogate(ctx):
    from atlaskb.engine import train as T

    r = ctx.rng("surrogate")
    net = models.build(models.SURROGATE_SPEC, ctx.x_att.shape[1], ctx.n_classes, ctx.image, r)
    return T.train(ctx.backend, net, ctx.x_att, ctx.y_att, epochs=ctx.cfg.epochs * 2,
                   batch_size=ctx.cfg.batch, lr=ctx.cfg.lr, rng=r)


def transfer_x(ctx, eps):
    attack = Transfer(surrogate(ctx), _pgd(ctx))
    return measure.run_attack(ctx, f"m0006:transfer:{eps:g}", surrogate(ctx), attack, ctx.x_test,
                              ctx.y_test, _blind(ctx, eps)).x_adv


# ---- experiments --------------------------------------------------------------------

def _robust(ctx, system, x_adv):
    return measure.robust_accuracy(system, x_adv, ctx.y_test, ctx.test_ids)


def white_box(ctx):
    base, soft, maj = baseline(ctx), defended(ctx), defended(ctx, "majority")
    b = _robust(ctx, base, pgd_baseline(ctx).x_adv)
    common = {"steps": ctx.cfg.pgd_steps, "random_start": True, "baseline": "same total budget",
              "baseline_attack": "PGD on the single model, cross-entropy"}
    x_na, x_ad = pgd_nonadaptive(ctx), pgd_adaptive(ctx).x_adv
    return [
        row("pgd_linf_nonadaptive", "robust_accuracy", b, _robust(ctx, soft, x_na), _white(ctx, False),
            params={**common, "defended_attack": "PGD crafted on member 0 only, sent to the ensemble"},
            extra={"defended_majority_vote": _robust(ctx, maj, x_na)},
            caveat="The attacker ignores all members but one; a real attacker would not."),
        row("pgd_linf_adaptive", "robust_accuracy", b, _robust(ctx, soft, x_ad), _white(ctx, True),
            params={**common, "defended_attack": "PGD end to end through the soft vote; per input the "
                                                 "first success of two losses (soft-vote and summed "
                                                 "member cross-entropy)"},
            extra={"defended_majority_vote": _robust(ctx, maj, x_ad)},
            caveat="The majority vote is scored on inputs crafted against the soft vote."),
    ]


def black_box(ctx):
    rows = []
    ids, x, y = ctx.test_ids, ctx.x_test, ctx.y_test
    base, soft = baseline(ctx), defended(ctx)
    for name, fn, tm, p in (
        ("simba_logprob_margin", simba, _scores(ctx), {"answers": "probabilities",
                                                       "objective": "log-probability margin"}),
        ("boundary_label_only", boundary, _labels(ctx), {"answers": "top label"}),
    ):
        ob, od = fn(ctx, "baseline"), fn(ctx, "defended")
        rows.append(row(name, "robust_accuracy", _robust(ctx, base, ob.x_adv), _robust(ctx, soft, od.x_adv),
                        tm, params=p,
                        extra={"success_rate_baseline": measure.success_rate(base, x, y, ob, ids),
                               "success_rate_defended": measure.success_rate(soft, x, y, od, ids)}))
        rows.append(row(name, "queries", measure.queries(base, x, y, ob, ids),
                        measure.queries(soft, x, y, od, ids), tm,
                        params={**p, "queries": "mean per correctly classified input, capped at the "
                                                "budget (more is better for the defender)"}))
    return rows


def transfer(ctx):
    cfg = ctx.cfg
    eps = sorted(set(cfg.transfer_eps) | {cfg.eps})
    base, soft, maj = baseline(ctx), defended(ctx), defended(ctx, "majority")
    xs = {e: transfer_x(ctx, e) for e in eps}
    series = {"x_label": "epsilon (L-inf)", "x": eps,
              "baseline": [_robust(ctx, base, xs[e]) for e in eps],
              "defended": [_robust(ctx, soft, xs[e]) for e in eps]}
    return [row("transfer_pgd_from_surrogate", "robust_accuracy", _robust(ctx, base, xs[cfg.eps]),
                _robust(ctx, soft, xs[cfg.eps]), _blind(ctx),
                params={"eps_range": eps, "steps": cfg.pgd_steps,
                        "surrogate": "mlp-relu (100), trained on the attacker's disjoint split",
                        "member_training": _member_training(cfg)},
                extra={"defended_majority_vote": _robust(ctx, maj, xs[cfg.eps])}, series=series)]


def manual_modification(ctx):
    rows = []
    base, soft, maj = baseline(ctx), defended(ctx), defended(ctx, "majority")
    for name, fn in manual.MODIFICATIONS.items():
        edit = Edit(lambda x, r, fn=fn: fn(x, ctx.image, r), name)
        tm = ThreatModel("none", "none", 0.0, 0, False)
        out = measure.run_attack(ctx, f"m0006:manual:{name}", base, edit, ctx.x_test, ctx.y_test, tm)
        rows.append(row(f"manual_{name}", "robust_accuracy", _robust(ctx, base, out.x_adv),
                        _robust(ctx, soft, out.x_adv), tm, params={"model_access": "none"},
                        extra={"defended_majority_vote": _robust(ctx, maj, out.x_adv)}))
    return rows


# ---- training-time attacks ----------------------------------------------------------

def _trigger(ctx, system) -> S.Points:
    keep = ctx.y_test != ctx.cfg.target_class
    x = backdoor.add_trigger(ctx.x_test[keep], ctx.image)
    crit = TargetedMisclassification(ctx.cfg.target_class)
    return S.rate(crit(system.predict(x), ctx.y_test[keep]), ctx.test_ids[keep])


def _trigger_tm():
    return ThreatModel("none", "none", 0.0, 0, False)


def backdoor_trigger(ctx):
    cfg = ctx.cfg

    def compute():
        n_poison = max(1, int(round(cfg.poison_frac * len(ctx.y_train))))
        xp, yp = backdoor.poison_set(ctx.x_att, ctx.image, cfg.target_class, n_poison, ctx.rng("poison"))
        p = min(cfg.poisoned_members, n_members(ctx))
        poisoned = ensemble.train_members(ctx.backend, ctx.x_train, ctx.y_train, ctx.n_classes, ctx.image, cfg,
                                          ctx.rng("members"), extra={i: (xp, yp) for i in range(p)},
                                          specs=models.member_specs(ctx.image)[:p])
        base = ensemble.train_baseline(ctx.backend, np.concatenate([ctx.x_train, xp]),
                                       np.concatenate([ctx.y_train, yp]), ctx.n_classes, ctx.image, cfg,
                                       ctx.rng("baseline"), n_members(ctx))
        return Model(ctx.backend, base), Ensemble(ctx.backend, poisoned + members(ctx)[p:]), n_poison, p

    b, d, n_poison, p = ctx.cached("m0006:poisoning", compute)
    return [row("poisoned_training_data", "attack_success_rate", _trigger(ctx, b), _trigger(ctx, d), _trigger_tm(),
                params={"poisoned_samples": n_poison, "poisoned_members": p, "members": n_members(ctx),
                        "target_class": cfg.target_class, "trigger": "2x2 bright corner square",
                        "exposure": "partitioned: poison reaches only some members' partitions"},
                extra={"defended_majority_vote": _trigger(ctx, d.with_vote("majority")),
                       "clean_accuracy_baseline": measure.correct(b, ctx.x_test, ctx.y_test, ctx.test_ids),
                       "clean_accuracy_defended": measure.correct(d, ctx.x_test, ctx.y_test, ctx.test_ids)},
                caveat="The baseline trains on all the poison, the ensemble's members on part of it.")]


def _supply_chain(ctx, bad_member, bad_alone, attack, how):
    d = Ensemble(ctx.backend, [bad_member] + members(ctx)[1:])
    alone = Model(ctx.backend, bad_alone)
    params = {"compromised_members": 1, "members": n_members(ctx), "target_class": ctx.cfg.target_class,
              "how": how}
    ids = ctx.test_ids
    return [
        row(attack, "attack_success_rate", _trigger(ctx, alone), _trigger(ctx, d), _trigger_tm(), params=params,
            extra={"defended_majority_vote": _trigger(ctx, d.with_vote("majority")),
                   "compromised_member_alone": _trigger(ctx, Model(ctx.backend, bad_member))},
            caveat="Exactly one member is compromised, by construction."),
        row(attack + "_clean", "accuracy", measure.correct(alone, ctx.x_test, ctx.y_test, ids),
            measure.correct(d, ctx.x_test, ctx.y_test, ids), _trigger_tm(),
            params={**params, "measures": "clean test accuracy of the compromised system"}),
    ]


def ai_software(ctx):
    cfg = ctx.cfg

    def compute():
        hook = compromised.trojaned_tool(ctx.image, cfg.target_class, cfg.tool_poison_rate)
        bad = ensemble.train_members(ctx.backend, ctx.x_train, ctx.y_train, ctx.n_classes, ctx.image, cfg,
                                     ctx.rng("members"), augment={0: hook},
                                     specs=models.member_specs(ctx.image)[:1])[0]
        base = ensemble.train_baseline(ctx.backend, ctx.x_train, ctx.y_train, ctx.n_classes, ctx.image, cfg,
                                       ctx.rng("baseline"), n_members(ctx), augment=hook)
        return bad, base

    bad, base = ctx.cached("m0006:trojaned-tool", compute)
    return _supply_chain(ctx, bad, base, "trojaned_training_tool",
                         f"training tool poisons {cfg.tool_poison_rate:.0%} of each batch")


def pretrained_model(ctx):
    cfg = ctx.cfg
    bad = ctx.cached("m0006:pretrained", lambda: compromised.backdoored_pretrained(
        ctx.backend, ctx.x_att, ctx.y_att, ctx.n_classes, ctx.image, target=cfg.target_class,
        rate=cfg.tool_poison_rate, epochs=cfg.epochs * 2, rng=ctx.rng("pretrained"), batch=cfg.batch, lr=cfg.lr))
    return _supply_chain(ctx, bad, bad, "backdoored_pretrained_weights",
                         "pre-trained weights trained by the attacker with the trigger built in")


def family_discovery(ctx):
    cfg, be = ctx.cfg, ctx.backend

    def compute():
        fams = fp.families(ctx.image)
        r = ctx.rng("fingerprint", "attacker")
        probes = fp.make_probes(ctx.x_att, cfg.probes, r)
        feats, labels = [], []
        for fi, fam in enumerate(fams):
            for _ in range(cfg.shadow_per_family):
                net = fp.random_model(be, fam, ctx.x_att, ctx.y_att, ctx.n_classes, ctx.image,
                                      epochs=cfg.fingerprint_epochs, rng=r, batch=cfg.batch, lr=cfg.lr)
                feats.append(fp.features(Model(be, net), probes))
                labels.append(fi)
        finger = fp.Fingerprinter(probes, fams).fit(np.array(feats), np.array(labels))
        rd = ctx.rng("fingerprint", "defender")
        pool_size = max(cfg.targets_per_family, 3)
        pool = {fam: [fp.random_model(be, fam, ctx.x_train, ctx.y_train, ctx.n_classes, ctx.image,
                                      epochs=cfg.fingerprint_epochs, rng=rd, batch=cfg.batch, lr=cfg.lr)
                      for _ in range(pool_size)] for fam in fams}
        single, ens = [], []
        for fam in fams:
            others = [f for f in fams if f != fam]
            for j in range(cfg.targets_per_family):
                single.append(finger.identify(Model(be, pool[fam][j])) == fam)
                nets = [pool[fam][(j + i) % pool_size] for i in range(3)] + [pool[o][j % pool_size] for o in others]
                ens.append(finger.identify(Ensemble(be, nets)) == fam)
        return np.array(single), np.array(ens), fams

    single, ens, fams = ctx.cached("m0006:fingerprint", compute)
    ids = np.arange(len(single))
    return [row("fingerprint_from_probe_answers", "identification_accuracy", S.rate(single, ids), S.rate(ens, ids),
                ThreatModel("scores", "none", 0.0, cfg.probes, False), hib=False,
                params={"families": fams, "shadow_models_per_family": cfg.shadow_per_family,
                        "probes": cfg.probes, "targets": int(len(single)),
                        "defended_target": "ensemble of 3 members of the family + 1 of each other",
                        "chance": 1.0 / len(fams)},
                caveat="The attacker's shadow library holds single models only.")]


# ---- worst cases: per input, over attacks at one threat model -----------------------

def _union(ctx, system, xs) -> S.Points:
    """Per test point: robust only if no attack in `xs` fools `system`."""
    ok = np.ones(len(ctx.y_test), bool)
    for x in xs:
        ok &= system.predict(x) == ctx.y_test
    return S.rate(ok, ctx.test_ids)


def _suite(ctx, white: bool):
    """Adversarial inputs per arm from every L-inf attack at eps (the same budget)."""
    b = [simba(ctx, "baseline").x_adv, transfer_x(ctx, ctx.cfg.eps)]
    d = [simba(ctx, "defended").x_adv, transfer_x(ctx, ctx.cfg.eps)]
    if white:
        b.append(pgd_baseline(ctx).x_adv)
        d += [pgd_adaptive(ctx).x_adv, pgd_nonadaptive(ctx)]
    return b, d


def craft_adversarial_data(ctx):
    b, d = _suite(ctx, white=True)
    return [row("worst_case_linf_per_input", "robust_accuracy", _union(ctx, baseline(ctx), b),
                _union(ctx, defended(ctx), d), _white(ctx, True),
                params={"over": ["pgd (white-box, adaptive)", "simba (scores)", "transfer (none)"],
                        "rule": "per test input, robust only if no attack at this eps fools the system"})]


def evade(ctx):
    b, d = _suite(ctx, white=False)
    return [row("strongest_black_box_evasion_per_input", "robust_accuracy", _union(ctx, baseline(ctx), b),
                _union(ctx, defended(ctx), d), _scores(ctx),
                params={"over": ["simba log-prob margin (scores)", "transfer from a surrogate (none)"],
                        "rule": "per test input, robust only if neither attack at this eps fools the system"})]


def erode(ctx):
    """Accuracy of the deployed system when every test input is attacked by the black-box
    suite, measured directly on all inputs."""
    b, d = _suite(ctx, white=False)
    ca = clean_accuracy(ctx)
    return [row("black_box_attack_on_all_inputs", "accuracy", _union(ctx, baseline(ctx), b),
                _union(ctx, defended(ctx), d), _scores(ctx),
                params={"measures": "accuracy on every test input after the attack"},
                extra={"clean_accuracy_baseline": ca["baseline"], "clean_accuracy_defended": ca["defended"]})]


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
