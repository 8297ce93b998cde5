"""AML.M0003 Model Hardening: one measured experiment for each technique it mitigates.

The defended model is the baseline's architecture trained for the same epochs on the same
data by PGD adversarial training (Madry et al., 2018): every minibatch is replaced by PGD
inputs at the training eps against the current weights (the primary system, the `defended`
arm of every row). TRADES (Zhang et al., 2019), trained with the same eps, steps and
epochs, is the second arm. The baseline is trained normally.
White-box rows attack the hardened model end to end with APGD and restarts (its gradients
are exact, so the adaptive attack needs no approximation) and show beside it the inputs
crafted on the normally trained model and sent to the hardened one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from atlaskb.defenses import measure, models
from atlaskb.defenses.mitigations import _evasion as E
from atlaskb.defenses.rows import row
from atlaskb.defenses.systems import Model
from atlaskb.engine import train as T
from atlaskb.engine.backend import flat_grads, flat_params

MITIGATION = "AML.M0003"
DESCRIPTION = (
    "PGD adversarial training (every minibatch replaced by PGD inputs at the training eps against the "
    "current weights; TRADES as a second arm) compared with the same architecture trained normally for the same epochs on the "
    "same data, against one attack per technique at a stated threat model."
)


@dataclass(frozen=True)
class Config(E.EvasionConfig):
    train_eps: float = 0.1       # L-inf eps of the inputs both arms train on (PGD and TRADES)
    train_steps: int = 7         # PGD steps crafting each training minibatch
    trades_beta: float = 6.0     # TRADES's weight on its robustness term (0: no TRADES arm)


FULL = Config()
QUICK = replace(FULL, **E.QUICK_BUDGETS, train_steps=5)



def _hardened(ctx, stream, x, y, spec=None):
    adv = T.pgd_adversary(ctx.backend, ctx.cfg.train_eps, ctx.cfg.train_steps)
    kw = {"spec": spec} if spec else {}
    return E.train_net(ctx, stream, x, y, adversary=adv, **kw)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _trades(ctx, stream, x, y):
    """TRADES (Zhang et al., 2019): minimise CE(f(x), y) + beta KL(p(x) || p(x')), where
    x' maximises that KL within the eps ball (PGD from a tiny random start). Both terms
    are differentiated with respect to the weights, through x and through x'."""
    be, cfg = ctx.backend, ctx.cfg
    r = ctx.rng(stream)
    bound = be.bind(models.build(models.BASELINE_SPEC, x.shape[1], ctx.n_classes, ctx.image, r), trainable=True)
    eps, steps, beta = cfg.train_eps, cfg.train_steps, cfg.trades_beta
    alpha, state, eye = 2.5 * eps / steps, {}, np.eye(ctx.n_classes)

    def run(xb, wrt):
        outs, tape = be.forward([bound], be.asarray(xb), wrt=wrt)
        return be.to_numpy(outs[0]).astype(np.float64), tape

    for _ in range(cfg.epochs):
        perm = r.permutation(len(y))
        for start in range(0, len(y), cfg.batch):
            idx = perm[start:start + cfg.batch]
            xb, m = x[idx], len(idx)
            lo, hi = np.clip(xb - eps, 0, 1), np.clip(xb + eps, 0, 1)
            p = _softmax(run(xb, ())[0])
            xa = np.clip(xb + 0.001 * r.normal(size=xb.shape), lo, hi).astype(xb.dtype)
            for _ in range(steps):
                z2, tape = run(xa, ("input",))
                gx, _ = be.backward(tape, [be.asarray((_softmax(z2) - p).astype(np.float32))])
                xa = np.clip(xa + alpha * np.sign(be.to_numpy(gx)), lo, hi).astype(xb.dtype)
            (z, t1), (z2, t2) = run(xb, ("params",)), run(xa, ("params",))
            p, q = _softmax(z), _softmax(z2)
            a = np.log(np.clip(p, 1e-12, None)) - np.log(np.clip(q, 1e-12, None))
            kl = (p * a).sum(axis=1, keepdims=True)
            gz = ((p - eye[y[idx]]) + beta * p * (a - kl)) / m
            _, g1 = be.backward(t1, [be.asarray(gz.astype(np.float32))])
            _, g2 = be.backward(t2, [be.asarray((beta * (q - p) / m).astype(np.float32))])
            grads = [u + v for u, v in zip(flat_grads(g1), flat_grads(g2))]
            be.adam_step(flat_params([bound]), grads, state, cfg.lr)
    return bound.to_network(be)


def defended(ctx) -> dict:
    def compute():
        out = {"pgd_adversarial_training": Model(ctx.backend, _hardened(ctx, "m0003:pgd-at", ctx.x_train,
                                                                        ctx.y_train))}
        if ctx.cfg.trades_beta > 0:
            out["trades"] = Model(ctx.backend, _trades(ctx, "m0003:trades", ctx.x_train, ctx.y_train))
        return out
    return ctx.cached("m0003:defended", compute)


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
                                    "a lucky start.",
        "trades": "TRADES (beta = {:g}), same eps, steps and epochs; exact gradients.".format(ctx.cfg.trades_beta)})
    systems = defended(ctx)
    for r in rows:
        r["params"].update(_training(ctx))
        r["extra"]["clean_accuracy_defended"] = measure.correct(systems[r["params"]["defended"]], ctx.x_test,
                                                                ctx.y_test, ctx.test_ids)
    return rows


def adv_surrogate(ctx):
    """The attacker hardens its own surrogate the same way, on its own split."""
    return ctx.cached("m0003:adv-surrogate", lambda: Model(ctx.backend, _hardened(
        ctx, "m0003:adv-surrogate", ctx.x_att, ctx.y_att, models.SURROGATE_SPEC)))


def transfer(ctx):
    return E.transfer_rows(ctx, defended(ctx), {"surrogate": E.surrogate(ctx),
                                                "adversarially_trained_surrogate": adv_surrogate(ctx)})


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


EXPERIMENTS = E.experiments(defended, white_box=white_box, transfer=transfer, backdoor=backdoor_trigger)
NOT_MEASURED: dict[str, str] = {}  # every technique ATLAS links to this mitigation has an experiment
