"""What the evasion mitigations (AML.M0003, M0010, M0015) share: the normally trained
baseline, the attacker's surrogate, the attacks at their threat models and the rows built
from them, so each mitigation module says only what its defended system is.

Every function takes the seed's context; trained models and attack runs are cached in it
under names beginning `evasion:` (one mitigation runs per context, so the names mean the
same in each). The defended systems come from the module as `name -> System` mappings; the
first is the primary one (the `defended` arm of every row), the others are scored on the
same inputs and reported as extras, or get rows of their own where an attack must adapt to
each (white-box).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atlaskb.defenses import measure, models
from atlaskb.defenses import stats as S
from atlaskb.defenses.attacks import backdoor, manual
from atlaskb.defenses.attacks.blind import Edit, Transfer
from atlaskb.defenses.attacks.gradient import APGD, PGD
from atlaskb.defenses.attacks.query import Boundary, SimBA
from atlaskb.defenses.config import BaseConfig
from atlaskb.defenses.rows import row
from atlaskb.defenses.systems import Model
from atlaskb.defenses.threat import Misclassification, TargetedMisclassification, ThreatModel
from atlaskb.engine import train as T


@dataclass(frozen=True)
class EvasionConfig(BaseConfig):
    eps_curve: tuple = (0.05, 0.1, 0.15, 0.2, 0.3)
    apgd_steps: int = 50
    restarts: int = 3
    transfer_steps: int = 40
    query_budget: int = 1000
    boundary_l2: float = 1.5
    poison_frac: float = 0.05
    target_class: int = 0


# ---- models -------------------------------------------------------------------------

def train_net(ctx, stream: str, x, y, *, spec=models.BASELINE_SPEC, epochs=None, batch_hook=None,
              adversary=None):
    """A network of `spec` trained on (x, y) for the config's epochs, from its own stream."""
    r = ctx.rng(stream)
    net = models.build(spec, x.shape[1], ctx.n_classes, ctx.image, r)
    return T.train(ctx.backend, net, x, y, epochs=epochs or ctx.cfg.epochs, batch_size=ctx.cfg.batch,
                   lr=ctx.cfg.lr, rng=r, batch_hook=batch_hook, adversary=adversary)


def baseline(ctx):
    """The undefended model: the defended systems' architecture, trained normally."""
    return ctx.cached("evasion:baseline", lambda: Model(ctx.backend, train_net(ctx, "baseline", ctx.x_train,
                                                                               ctx.y_train)))


def surrogate(ctx):
    """The attacker's own model, trained on the attacker's disjoint split."""
    return ctx.cached("evasion:surrogate", lambda: Model(ctx.backend, train_net(
        ctx, "surrogate", ctx.x_att, ctx.y_att, spec=models.SURROGATE_SPEC, epochs=2 * ctx.cfg.epochs)))


def poison(ctx, trigger=backdoor.add_trigger, name="corner"):
    """The attacker's poisoned samples: triggered copies of its own inputs, relabelled to
    the target class, `poison_frac` of the defender's training set."""
    def compute():
        n = max(1, int(round(ctx.cfg.poison_frac * len(ctx.y_train))))
        r = ctx.rng("poison", name)
        idx = r.choice(len(ctx.x_att), size=min(n, len(ctx.x_att)), replace=False)
        xp = trigger(ctx.x_att[idx], ctx.image)
        return (np.concatenate([ctx.x_train, xp]),
                np.concatenate([ctx.y_train, np.full(len(idx), ctx.cfg.target_class, np.int64)]), len(idx))
    return ctx.cached(f"evasion:poison:{name}", compute)


# ---- threat models ------------------------------------------------------------------

def white(ctx, eps=None, adaptive=True):
    return ThreatModel("white-box", "linf", ctx.cfg.eps if eps is None else eps, 0, adaptive)


def scores_tm(ctx):
    return ThreatModel("scores", "linf", ctx.cfg.eps, ctx.cfg.query_budget, True)


def labels_tm(ctx):
    return ThreatModel("labels", "l2", ctx.cfg.boundary_l2, ctx.cfg.query_budget, True)


def blind(ctx, eps=None):
    return ThreatModel("none", "linf", ctx.cfg.eps if eps is None else eps, 0, False)


NO_BUDGET = ThreatModel("none", "none", 0.0, 0, False)

# Quick budgets shared by the evasion mitigations (each module adds its own knobs).
QUICK_BUDGETS = dict(epochs=30, n_test=300, apgd_steps=20, restarts=2, transfer_steps=20,
                     eps_curve=(0.05, 0.1, 0.2, 0.3), query_budget=300)


# ---- attacks (cached per seed) ------------------------------------------------------

def apgd(ctx):
    return APGD(steps=ctx.cfg.apgd_steps, restarts=ctx.cfg.restarts)


def white_box_attack(ctx, key: str, system, eps: float, criterion=Misclassification()):
    """APGD (cross-entropy and margin, restarts) on `system` end to end: through the
    system's own gradient or its stated approximation (BPDA, EOT, joint loss)."""
    return measure.run_attack(ctx, f"evasion:apgd:{key}:{eps:g}", system, apgd(ctx), ctx.x_test, ctx.y_test,
                              white(ctx, eps), criterion)


def baseline_white(ctx, eps):
    return white_box_attack(ctx, "baseline", baseline(ctx), eps)


def simba(ctx, key, system, criterion=Misclassification()):
    return measure.run_attack(ctx, f"evasion:simba:{key}", system, SimBA(), ctx.x_test, ctx.y_test,
                              scores_tm(ctx), criterion)


def boundary(ctx, key, system, criterion=Misclassification()):
    return measure.run_attack(ctx, f"evasion:boundary:{key}", system, Boundary(ctx.x_att), ctx.x_test,
                              ctx.y_test, labels_tm(ctx), criterion)


def transfer_x(ctx, eps, key="surrogate", source=None):
    """Inputs crafted by PGD on the attacker's surrogate (or `source`), sent blind."""
    src = source or surrogate(ctx)
    attack = Transfer(src, PGD(steps=ctx.cfg.transfer_steps))
    return measure.run_attack(ctx, f"evasion:transfer:{key}:{eps:g}", src, attack, ctx.x_test, ctx.y_test,
                              blind(ctx, eps)).x_adv


def eps_grid(ctx):
    return sorted(set(ctx.cfg.eps_curve) | {ctx.cfg.eps})


# ---- measurements -------------------------------------------------------------------

def robust(ctx, system, x_adv):
    return measure.robust_accuracy(system, x_adv, ctx.y_test, ctx.test_ids)


def union(ctx, system, xs) -> S.Points:
    """Per test point: robust only if no input in `xs` (one array per attack) gets
    through `system` (a wrong label that is not a rejection)."""
    ok = np.ones(len(ctx.y_test), bool)
    for x in xs:
        ok &= robust(ctx, system, x).values.astype(bool)
    return S.rate(ok, ctx.test_ids)


def _others(systems: dict, system_x) -> dict:
    """Extras: every non-primary defended system scored on its own inputs."""
    return {f"defended_{name}": system_x(name, s) for name, s in list(systems.items())[1:]}


# ---- rows ---------------------------------------------------------------------------

def white_box_rows(ctx, systems: dict, *, notes: dict | None = None, criterion=Misclassification()):
    """For each defended system: APGD crafted on the undefended (baseline) model and sent
    to the system (non-adaptive) and APGD through the system itself (adaptive), both
    against APGD on the baseline, at the config's eps, each with its curve over eps."""
    cfg, grid = ctx.cfg, eps_grid(ctx)
    base = baseline(ctx)
    b_curve = [robust(ctx, base, baseline_white(ctx, e).x_adv) for e in grid]
    b = b_curve[grid.index(cfg.eps)]
    out = []
    common = {"attack": "APGD-style (cross-entropy and margin losses, step-size checkpoints, momentum)",
              "steps": cfg.apgd_steps, "restarts": cfg.restarts, "eps_range": grid,
              "baseline_attack": "the same APGD on the normally trained model"}
    for name, system in systems.items():
        def non(e):
            return baseline_white(ctx, e).x_adv

        def ada(e, system=system, name=name):
            return white_box_attack(ctx, f"adaptive:{name}", system, e, criterion).x_adv

        note = (notes or {}).get(name, "")
        for kind, fn, adaptive, what in (
            ("nonadaptive", non, False, "the baseline's APGD inputs (crafted on the undefended model)"),
            ("adaptive", ada, True, f"APGD end to end through the defended system ({system.approximation})"),
        ):
            curve = [robust(ctx, system, fn(e)) for e in grid]
            out.append(row(f"apgd_linf_{kind}_{name}", "robust_accuracy", b, curve[grid.index(cfg.eps)],
                           white(ctx, adaptive=adaptive), params={**common, "defended": name, "defended_attack": what},
                           series={"x_label": "epsilon (L-inf)", "x": grid, "baseline": b_curve,
                                   "defended": curve},
                           caveat=note if adaptive else "The attacker ignores the defense; a real one would not.",
                           headline=adaptive and name == next(iter(systems))))
    return out


def black_box_rows(ctx, systems: dict, criterion=Misclassification()):
    """Score-based (SimBA on log-probability margins) and label-only (boundary) attacks
    on the whole deployed pipeline; robust accuracy and queries within the budget."""
    rows = []
    ids, x, y = ctx.test_ids, ctx.x_test, ctx.y_test
    base = baseline(ctx)
    name, system = next(iter(systems.items()))
    for attack, fn, tm, p in (
        ("simba_logprob_margin", simba, scores_tm(ctx), {"answers": "probabilities (and the rejection, "
                                                                    "if any, as one more column)",
                                                         "objective": "log-probability margin"}),
        ("boundary_label_only", boundary, labels_tm(ctx), {"answers": "top label (or the rejection)"}),
    ):
        ob, od = fn(ctx, "baseline", base), fn(ctx, f"defended:{name}", system, criterion)
        p = {**p, "defended": name}
        rows.append(row(attack, "robust_accuracy", robust(ctx, base, ob.x_adv), robust(ctx, system, od.x_adv), tm,
                        params=p, headline=attack == "simba_logprob_margin",
                        extra={"success_rate_baseline": measure.success_rate(base, x, y, ob, ids),
                               "success_rate_defended": measure.success_rate(system, x, y, od, ids)}))
        rows.append(row(attack, "queries", measure.queries(base, x, y, ob, ids),
                        measure.queries(system, x, y, od, ids), tm,
                        params={**p, "queries": "mean per correctly classified input, capped at the budget "
                                                "(more is better for the defender)"}))
    return rows


def transfer_rows(ctx, systems: dict, sources: dict | None = None):
    """PGD on the attacker's surrogate(s), sent blind to both arms, over eps. `sources`
    maps a label to a surrogate system (default: the normally trained one)."""
    cfg, grid = ctx.cfg, eps_grid(ctx)
    base = baseline(ctx)
    name, system = next(iter(systems.items()))
    sources = sources or {"surrogate": surrogate(ctx)}
    rows = []
    for key, src in sources.items():
        xs = {e: transfer_x(ctx, e, key, src) for e in grid}
        rows.append(row(f"transfer_pgd_from_{key}", "robust_accuracy", robust(ctx, base, xs[cfg.eps]),
                        robust(ctx, system, xs[cfg.eps]), blind(ctx),
                        params={"eps_range": grid, "steps": cfg.transfer_steps, "defended": name,
                                "surrogate": f"{key}: mlp-relu (100), trained on the attacker's disjoint split"},
                        extra=_others(systems, lambda n, s: robust(ctx, s, xs[cfg.eps])),
                        series={"x_label": "epsilon (L-inf)", "x": grid,
                                "baseline": [robust(ctx, base, xs[e]) for e in grid],
                                "defended": [robust(ctx, system, xs[e]) for e in grid]},
                        headline=key == next(iter(sources))))
    return rows


def manual_rows(ctx, systems: dict):
    """The hand edits (occlusion, stroke, shift, noise), scored on both arms."""
    rows = []
    base = baseline(ctx)
    name, system = next(iter(systems.items()))
    for mod_name, fn in manual.MODIFICATIONS.items():
        edit = Edit(lambda x, r, fn=fn: fn(x, ctx.image, r), mod_name)
        out = measure.run_attack(ctx, f"evasion:manual:{mod_name}", base, edit, ctx.x_test, ctx.y_test, NO_BUDGET)
        rows.append(row(f"manual_{mod_name}", "robust_accuracy", robust(ctx, base, out.x_adv),
                        robust(ctx, system, out.x_adv), NO_BUDGET, params={"model_access": "none", "defended": name},
                        extra=_others(systems, lambda n, s: robust(ctx, s, out.x_adv))))
    return rows


def trigger_success(ctx, system, trigger=backdoor.add_trigger) -> S.Points:
    """Share of the test points not of the target class that the trigger sends there
    (a rejected input is not sent anywhere)."""
    keep = ctx.y_test != ctx.cfg.target_class
    x = trigger(ctx.x_test[keep], ctx.image)
    crit = TargetedMisclassification(ctx.cfg.target_class)
    return S.rate(crit(system.predict(x), ctx.y_test[keep]), ctx.test_ids[keep])


# ---- worst cases over the sub-technique rows, at one threat model --------------------

def suites(ctx, systems: dict, white_box: bool, criterion=Misclassification()):
    """Adversarial inputs per arm from every L-inf attack at the config's eps: the
    adaptive white-box APGD (if `white_box`), SimBA and transfer."""
    eps = ctx.cfg.eps
    name, system = next(iter(systems.items()))
    b = [simba(ctx, "baseline", baseline(ctx)).x_adv, transfer_x(ctx, eps)]
    d = [simba(ctx, f"defended:{name}", system, criterion).x_adv, transfer_x(ctx, eps)]
    if white_box:
        b.append(baseline_white(ctx, eps).x_adv)
        d.append(white_box_attack(ctx, f"adaptive:{name}", system, eps, criterion).x_adv)
    return b, d


def worst_case_rows(ctx, systems: dict, criterion=Misclassification()):
    """T0043 (white-box worst case), T0015 (black-box evasion) and T0031 (accuracy of the
    deployed system with every input attacked) as a dict technique -> rows."""
    base = baseline(ctx)
    name, system = next(iter(systems.items()))
    bw, dw = suites(ctx, systems, True, criterion)
    bb, db = suites(ctx, systems, False, criterion)
    ca = measure.correct(system, ctx.x_test, ctx.y_test, ctx.test_ids)
    cb = measure.correct(base, ctx.x_test, ctx.y_test, ctx.test_ids)
    return {
        "AML.T0043": [row("worst_case_linf_per_input", "robust_accuracy", union(ctx, base, bw),
                          union(ctx, system, dw), white(ctx),
                          params={"over": ["apgd (white-box, adaptive)", "simba (scores)", "transfer (none)"],
                                  "defended": name,
                                  "rule": "per test input, robust only if no attack at this eps gets through"})],
        "AML.T0015": [row("strongest_black_box_evasion_per_input", "robust_accuracy", union(ctx, base, bb),
                          union(ctx, system, db), scores_tm(ctx),
                          params={"over": ["simba log-prob margin (scores)", "transfer from a surrogate (none)"],
                                  "defended": name,
                                  "rule": "per test input, robust only if neither attack at this eps gets through"})],
        "AML.T0031": [row("black_box_attack_on_all_inputs", "accuracy", union(ctx, base, bb),
                          union(ctx, system, db), scores_tm(ctx),
                          params={"measures": "accuracy on every test input after the attack (a rejected "
                                              "attacked input counts as stopped)", "defended": name},
                          extra={"clean_accuracy_baseline": cb, "clean_accuracy_defended": ca})],
    }


def experiments(defended, *, white_box, backdoor, black_box=None, transfer=None,
                criterion=Misclassification()) -> dict:
    """A mitigation's EXPERIMENTS for the eight evasion techniques, given its `defended(ctx)`
    (name -> System) and the experiments it words itself; the rest are the shared rows."""
    def worst(technique):
        def experiment(ctx):
            return worst_case_rows(ctx, defended(ctx), criterion)[technique]
        experiment.__name__ = "worst_case_" + technique.replace(".", "_")
        return experiment

    def shared(fn, name, *args):
        def experiment(ctx):
            return fn(ctx, defended(ctx), *args)
        experiment.__name__ = name
        return experiment

    return {
        "AML.T0015": worst("AML.T0015"),
        "AML.T0031": worst("AML.T0031"),
        "AML.T0043": worst("AML.T0043"),
        "AML.T0043.000": white_box,
        "AML.T0043.001": black_box or shared(black_box_rows, "black_box", criterion),
        "AML.T0043.002": transfer or shared(transfer_rows, "transfer"),
        "AML.T0043.003": shared(manual_rows, "manual_modification"),
        "AML.T0043.004": backdoor,
    }
