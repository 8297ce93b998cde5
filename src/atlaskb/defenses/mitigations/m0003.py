"""AML.M0003 Model Hardening: one measured experiment for each technique it mitigates.

The defended model is the baseline's architecture trained for the same epochs on the same
data by PGD adversarial training (Madry et al., 2018): every minibatch is replaced by PGD
inputs at the training eps against the current weights. The baseline is trained normally.
White-box rows attack the hardened model end to end with APGD and restarts (its gradients
are exact, so the adaptive attack needs no approximation) and show beside it the inputs
crafted on the normally trained model and sent to the hardened one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from atlaskb.defenses import measure
from atlaskb.defenses.mitigations import _evasion as E
from atlaskb.defenses.rows import row
from atlaskb.defenses.systems import Model
from atlaskb.engine import train as T

MITIGATION = "AML.M0003"
DESCRIPTION = (
    "PGD adversarial training (every minibatch replaced by PGD inputs at the training eps against the "
    "current weights) compared with the same architecture trained normally for the same epochs on the "
    "same data, against one attack per technique at a stated threat model."
)
NOT_MEASURED: dict[str, str] = {}


@dataclass(frozen=True)
class Config(E.EvasionConfig):
    train_eps: float = 0.1
    train_steps: int = 7


FULL = Config()
QUICK = replace(FULL, epochs=30, n_test=300, apgd_steps=20, restarts=2, transfer_steps=20,
                eps_curve=(0.05, 0.1, 0.2, 0.3), query_budget=300, train_steps=5)


def config(quick: bool) -> Config:
    return QUICK if quick else FULL


def _hardened(ctx, stream, x, y, spec=None):
    adv = T.pgd_adversary(ctx.backend, ctx.cfg.train_eps, ctx.cfg.train_steps)
    kw = {"spec": spec} if spec else {}
    return E.train_net(ctx, stream, x, y, adversary=adv, **kw)


def defended(ctx) -> dict:
    return ctx.cached("m0003:defended", lambda: {
        "pgd_adversarial_training": Model(ctx.backend, _hardened(ctx, "m0003:pgd-at", ctx.x_train, ctx.y_train))})


def clean_accuracy(ctx) -> dict:
    primary = next(iter(defended(ctx).values()))
    return {"baseline": measure.correct(E.baseline(ctx), ctx.x_test, ctx.y_test, ctx.test_ids),
            "defended": measure.correct(primary, ctx.x_test, ctx.y_test, ctx.test_ids)}


def _training(ctx) -> dict:
    c = ctx.cfg
    return {"training": f"PGD adversarial training, eps {c.train_eps:g}, {c.train_steps} steps, {c.epochs} epochs",
            "baseline_training": f"normal training, {c.epochs} epochs"}


def white_box(ctx):
    rows = E.white_box_rows(ctx, defended(ctx), notes={
        "pgd_adversarial_training": "The hardened model's gradients are exact; APGD restarts guard against "
                                    "a lucky start."})
    for r in rows:
        r["params"].update(_training(ctx))
    return rows


def black_box(ctx):
    return E.black_box_rows(ctx, defended(ctx))


def adv_surrogate(ctx):
    """The attacker hardens its own surrogate the same way, on its own split."""
    from atlaskb.defenses import models

    return ctx.cached("m0003:adv-surrogate", lambda: Model(ctx.backend, _hardened(
        ctx, "m0003:adv-surrogate", ctx.x_att, ctx.y_att, models.SURROGATE_SPEC)))


def transfer(ctx):
    return E.transfer_rows(ctx, defended(ctx), {"surrogate": E.surrogate(ctx),
                                                "adversarially_trained_surrogate": adv_surrogate(ctx)})


def manual_modification(ctx):
    return E.manual_rows(ctx, defended(ctx))


def backdoor_trigger(ctx):
    x, y, n = E.poison(ctx)

    def compute():
        return (Model(ctx.backend, E.train_net(ctx, "m0003:poisoned-baseline", x, y)),
                Model(ctx.backend, _hardened(ctx, "m0003:poisoned-pgd-at", x, y)))

    base, hard = ctx.cached("m0003:poisoned", compute)
    ids = ctx.test_ids
    return [row("poisoned_training_data", "attack_success_rate", E.trigger_success(ctx, base),
                E.trigger_success(ctx, hard), E.NO_BUDGET,
                params={"poisoned_samples": n, "target_class": ctx.cfg.target_class,
                        "trigger": "2x2 bright corner square", **_training(ctx)},
                extra={"clean_accuracy_baseline": measure.correct(base, ctx.x_test, ctx.y_test, ids),
                       "clean_accuracy_defended": measure.correct(hard, ctx.x_test, ctx.y_test, ids)},
                caveat="Both models train on the same poisoned set; adversarial training perturbs the "
                       "poisoned inputs too.", headline=True)]


def _worst(technique):
    def experiment(ctx):
        return E.worst_case_rows(ctx, defended(ctx))[technique]
    experiment.__name__ = f"worst_case_{technique}"
    return experiment


EXPERIMENTS = {
    "AML.T0015": _worst("AML.T0015"),
    "AML.T0031": _worst("AML.T0031"),
    "AML.T0043": _worst("AML.T0043"),
    "AML.T0043.000": white_box,
    "AML.T0043.001": black_box,
    "AML.T0043.002": transfer,
    "AML.T0043.003": manual_modification,
    "AML.T0043.004": backdoor_trigger,
}
