"""AML.M0015 Adversarial Input Detection: one measured experiment for each technique it
mitigates.

The defended systems put a detector that rejects in front of the baseline classifier
itself (so any difference is the detector's): a learned binary detector trained on the
defender's clean inputs against PGD inputs crafted on its own classifier (the primary
system, the `defended` arm of every row: the strongest of the three against non-adaptive
attacks), a Mahalanobis score on the classifier's hidden features, and feature-squeezing
disagreement. Each threshold is set for a 5% false-positive rate
on clean inputs held out from the detector's fitting. A rejected attacked input counts as
stopped (robust accuracy is "correct or rejected"); a rejected clean input counts against
the system (clean accuracy is "correct"). White-box rows come twice: APGD on the
classifier alone, sent to the detector (non-adaptive), and APGD on a joint loss that
raises the classifier's loss while lowering the detector's score (adaptive; Carlini and
Wagner, 2017).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from atlaskb.defenses import detectors, measure, transforms
from atlaskb.defenses import stats as S
from atlaskb.defenses.mitigations import _evasion as E
from atlaskb.defenses.rows import row
from atlaskb.defenses.systems import Model, Rejecting
from atlaskb.defenses.threat import Misclassification
from atlaskb.engine import train as T
from atlaskb.engine.network import mlp

MITIGATION = "AML.M0015"
DESCRIPTION = (
    "Detectors that reject inputs, in front of the same classifier as the baseline: a learned binary "
    "detector (primary), a Mahalanobis score on hidden features and feature-squeezing disagreement, each "
    "at a 5% false-positive rate on held-out clean inputs; a rejected attacked input counts as stopped, "
    "a rejected clean input as an error; non-adaptive attacks and a joint-loss attack on classifier and "
    "detector together."
)
CRITERION = Misclassification(rejects=True)  # a rejection is no success; scores carry it as a column


@dataclass(frozen=True)
class Config(E.EvasionConfig):
    fpr: float = 0.05                       # each detector's false-positive rate on held-out clean inputs
    val_frac: float = 0.2                   # share of the defender's data held out to set the thresholds
    bits: int = 2                           # feature squeezing: bits per pixel kept
    median_size: int = 2                    # feature squeezing: the median filter's window
    joint_weight: float = 1.0               # the detector's loss in the adaptive joint attack
    detector_hidden: int = 64               # hidden units of the learned detector
    detector_attack_steps: int = 10         # PGD steps crafting the learned detector's positives
    detector_eps: tuple = (0.05, 0.1, 0.2)  # their L-inf eps (the positives split evenly)


FULL = Config()
QUICK = replace(FULL, **E.QUICK_BUDGETS)



# ---- systems ------------------------------------------------------------------------

def _learned_detector(ctx, classifier, x_fit, y_fit, tag):
    """An MLP trained on clean inputs (0) against PGD inputs on the defender's own
    classifier at several eps (1), from the defender's data only."""
    from atlaskb.defenses.attacks.gradient import PGD
    from atlaskb.defenses.threat import ThreatModel

    cfg, r = ctx.cfg, ctx.rng("m0015:detector-data", tag)
    parts = np.array_split(r.permutation(len(x_fit)), len(cfg.detector_eps))
    adv = [PGD(steps=cfg.detector_attack_steps)(classifier, x_fit[i], y_fit[i],
                                                ThreatModel("white-box", "linf", e), r).x_adv
           for i, e in zip(parts, cfg.detector_eps)]
    x = np.concatenate([x_fit, *adv])
    y = np.concatenate([np.zeros(len(x_fit), np.int64), np.ones(sum(len(a) for a in adv), np.int64)])
    rn = ctx.rng("m0015:detector", tag)
    net = mlp(x.shape[1], (cfg.detector_hidden,), 2, "relu", rn)
    return Model(ctx.backend, T.train(ctx.backend, net, x, y, epochs=cfg.epochs, batch_size=cfg.batch,
                                      lr=cfg.lr, rng=rn))


def build(ctx, classifier, x, y, tag) -> dict:
    """The three rejecting systems around `classifier`, fitted on the defender's (x, y)
    with a held-out clean share for the thresholds."""
    cfg = ctx.cfg
    perm = ctx.rng("m0015:validation", tag).permutation(len(x))
    n_val = max(1, int(round(cfg.val_frac * len(x))))
    val, fit = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    net = classifier.networks[0]
    squeeze = detectors.ScoreDetector(detectors.SqueezeDisagreement(ctx.backend, net, {
        f"median_{cfg.median_size}x{cfg.median_size}": transforms.median_filter(ctx.image, cfg.median_size),
        f"bit_depth_{cfg.bits}": transforms.bit_depth(cfg.bits)}), "feature_squeezing").calibrate(x[val], cfg.fpr)
    maha = detectors.ScoreDetector(detectors.Mahalanobis(ctx.backend, net, x[fit], y[fit], ctx.n_classes),
                                   "mahalanobis").calibrate(x[val], cfg.fpr)
    learned = _learned_detector(ctx, classifier, x[fit], y[fit], tag)
    t_learned = detectors.threshold_at_fpr(learned.scores(x[val])[:, 1], cfg.fpr)
    w = cfg.joint_weight
    return {"learned_detector": Rejecting(classifier, learned, t_learned, w),
            "mahalanobis": Rejecting(classifier, maha, 0.5, w),
            "feature_squeezing": Rejecting(classifier, squeeze, 0.5, w)}


def defended(ctx) -> dict:
    return ctx.cached("m0015:defended", lambda: build(ctx, E.baseline(ctx), ctx.x_train, ctx.y_train, "clean"))


def clean_accuracy(ctx) -> dict:
    primary = next(iter(defended(ctx).values()))
    return {"baseline": measure.correct(E.baseline(ctx), ctx.x_test, ctx.y_test, ctx.test_ids),
            "defended": measure.correct(primary, ctx.x_test, ctx.y_test, ctx.test_ids)}


def _false_positives(ctx, system) -> S.Points:
    return S.rate(system.rejected(ctx.x_test), ctx.test_ids)


def _detected(ctx, system, x_adv) -> S.Points:
    """Share of the attacked inputs that fool the classifier which the detector rejects."""
    fooled = system.inner.predict(x_adv) != ctx.y_test
    return S.rate(system.rejected(x_adv[fooled]), ctx.test_ids[fooled])


# ---- experiments --------------------------------------------------------------------

NOTES = {"feature_squeezing": "Joint loss; the median squeezer is differentiated, the bit-depth one by BPDA.",
         "mahalanobis": "Joint loss with the exact gradient of the Mahalanobis score.",
         "learned_detector": "Joint loss with the detector network's exact gradient."}


def white_box(ctx):
    systems = defended(ctx)
    rows = E.white_box_rows(ctx, systems, notes=NOTES, criterion=CRITERION)
    for r in rows:
        name = r["params"]["defended"]
        if r["threat_model"].adaptive:
            x_adv = E.white_box_attack(ctx, f"adaptive:{name}", systems[name], ctx.cfg.eps, CRITERION).x_adv
        else:
            x_adv = E.baseline_white(ctx, ctx.cfg.eps).x_adv
        r["extra"]["clean_test_rejected"] = _false_positives(ctx, systems[name])
        r["extra"]["fooling_inputs_detected"] = _detected(ctx, systems[name], x_adv)
        r["params"]["joint_weight"] = ctx.cfg.joint_weight
        r["params"]["threshold"] = f"{ctx.cfg.fpr:.0%} false positives on held-out clean training inputs"
    return rows


def black_box(ctx):
    rows = E.black_box_rows(ctx, defended(ctx), CRITERION)
    for r in rows:
        r["params"]["stateful_query_detection"] = "not built: the detectors judge each input on its own"
    return rows


def backdoor_trigger(ctx):
    x, y, n = E.poison(ctx)

    def compute():
        base = Model(ctx.backend, E.train_net(ctx, "m0015:poisoned-classifier", x, y))
        return base, build(ctx, base, x, y, "poisoned")

    base, systems = ctx.cached("m0015:poisoned", compute)
    primary = next(iter(systems))
    return [row("poisoned_training_data", "attack_success_rate", E.trigger_success(ctx, base),
                E.trigger_success(ctx, systems[primary]), E.NO_BUDGET,
                params={"poisoned_samples": n, "target_class": ctx.cfg.target_class, "defended": primary,
                        "trigger": "2x2 bright corner square",
                        "detectors": "fitted on the defender's (poisoned) training data"},
                extra={f"defended_{k}": E.trigger_success(ctx, s) for k, s in systems.items() if k != primary},
                caveat="A triggered input that is rejected counts as stopped.", headline=True)]


EXPERIMENTS = E.experiments(defended, white_box=white_box, black_box=black_box, backdoor=backdoor_trigger,
                            criterion=CRITERION)

NOT_MEASURED = {
    "AML.T0029": ("Denial of AI Service is not measurable with this engine: every model here costs the same "
                  "fixed inference work for any input (dense and convolutional layers, no early exits or "
                  "input-dependent computation), so sponge inputs that raise latency or energy have nothing to "
                  "exploit, and a detector cannot be shown to reduce a cost that never varies."),
}
