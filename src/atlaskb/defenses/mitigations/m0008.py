"""AML.M0008 Validate AI Model: one measured experiment for each technique it mitigates.

The defender receives models from a supplier (trained on data the defender never sees:
the attacker's split) and validates each before deploying it: a held-out accuracy gate on
the defender's own data, trigger reverse-engineering after Neural Cleanse, and a
meta-classifier trained on the defender's own shadow models (`atlaskb.defenses.validation`).
A rejected model is replaced by the defender's own clean model. The baseline deploys every
model without validation.

The deploy/reject threshold is calibrated, not fixed: the defender trains clean
calibration models of its own (on its data outside the validation split; disjoint from
the judged models and from the meta-classifier's shadow models; never a tampered model),
scores them with the three checks, and rejects a supplied model when its combined score
(its most unusual check, `validation.CalibratedGate`) lies above the (1 - FPR) quantile
of the calibration models' combined scores, FPR = 5%. Every validation row reports the
share of the judged clean models actually rejected (`clean_models_rejected`), so the
reader can check the 5% against a population the calibration never saw.

A population of models per seed (clean ones, and tampered ones of each kind: poisoned
training data, weights fine-tuned with a trigger, an added trigger-detecting unit) gives
each check's detection AUC and true-positive rate at 5% false positives, and the trigger
success of what ends up deployed. A link's headline is the AUC of the validator's own
deploy/reject decision, which is 0.5 for a validator that rejects at random however often
it rejects: deployed trigger success alone would credit a validator for rejecting clean
and tampered models alike, so it is shown beside the expected value for random rejection
at the validator's false-positive rate. For AML.T0043 the check is a robustness gate: among
candidate models, deploy the one whose robust accuracy under a one-step attack on the
defender's validation data is highest; the gate passes it if that robust accuracy is at
least the 5% quantile of the defender's own adversarially trained calibration models'
(so about 5% of models as robust as the defender's own fail it), and the deployed model is
then attacked with a stronger attack.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from atlaskb.defenses import measure, validation
from atlaskb.defenses import stats as S
from atlaskb.defenses.attacks import backdoor, compromised
from atlaskb.defenses.attacks.gradient import APGD, PGD
from atlaskb.defenses.config import BaseConfig
from atlaskb.defenses.rows import row
from atlaskb.defenses.systems import Model
from atlaskb.defenses.threat import ThreatModel
from atlaskb.engine import train as T
from atlaskb.engine.network import mlp

MITIGATION = "AML.M0008"
DESCRIPTION = (
    "Validation before deployment (held-out accuracy gate, Neural Cleanse style trigger "
    "reverse-engineering, a meta-classifier trained on the defender's own clean and backdoored shadow "
    "models; a robustness gate for adversarial inputs), a rejected model replaced by the defender's own "
    "clean model, compared with deploying every supplied model without validation."
)

KINDS = ("patch", "blend", "source_specific", "finetune", "branch")
KIND_WORDS = {
    "patch": "trained on data with 2x2 corner-trigger poison (own random target class)",
    "blend": "trained on data with blended noise-trigger poison (own pattern and target)",
    "source_specific": "trained on corner-trigger poison from one source class plus as many cover samples of "
                       "the other classes carrying the trigger and their true labels (after Tang et al., 2021), "
                       "so no small mask sends every class to the target: made to evade trigger "
                       "reverse-engineering",
    "finetune": "a clean model's weights fine-tuned by the attacker with corner-trigger copies",
    "branch": "a clean model with an added hidden unit that detects the corner trigger",
}
FPR = 0.05


@dataclass(frozen=True)
class Config(BaseConfig):
    epochs: int = 40
    hidden: int = 32
    n_clean: int = 30
    n_tampered: int = 20
    n_shadow: int = 20                 # the defender's shadow models of each kind (clean, backdoored)
    poison_frac: float = 0.1           # share of a poisoned training set (it replaces clean samples)
    blend_alpha: float = 0.2
    finetune_epochs: int = 10
    nc_samples: int = 30
    nc_steps: int = 150
    meta_queries: int = 20
    n_calib: int = 40                  # the defender's clean calibration models (threshold at FPR)
    val_points: int = 300
    # AML.T0043 robustness gate
    candidates: int = 3                # of each: normally and adversarially trained
    at_steps: int = 3
    gate_calib: int = 20               # the defender's adversarially trained calibration models
    apgd_steps: int = 50
    restarts: int = 3


FULL = Config()
QUICK = replace(FULL, epochs=20, n_clean=10, n_tampered=10, n_shadow=8, nc_steps=60, nc_samples=20,
                n_calib=20, n_test=300, candidates=2, apgd_steps=20, restarts=2)



# ---- the defender's data and models -------------------------------------------------

def _own_split(ctx):
    """Indices into the defender's data: (validation, rest), drawn at random. A random draw,
    not the first points: the data set's order follows its writers, so a validation set cut
    from the front differs from the rest, and models trained on the rest (the calibration
    models) scored lower on it than supplied models trained on a sample of everything."""

    def compute():
        n = len(ctx.y_train)
        if ctx.cfg.val_points >= n:
            raise ValueError(f"val_points ({ctx.cfg.val_points}) leaves none of the defender's "
                             f"{n} training points for its own models")
        perm = ctx.rng("m0008", "validation-split").permutation(n)
        return np.sort(perm[:ctx.cfg.val_points]), np.sort(perm[ctx.cfg.val_points:])

    return ctx.cached("m0008:own-split", compute)


def _val(ctx):
    """The defender's held-out validation data (its own split, never seen by suppliers and
    never trained on by the defender's calibration models)."""
    idx = _own_split(ctx)[0]
    return ctx.x_train[idx], ctx.y_train[idx]


def _own_data(ctx):
    """The defender's data outside its validation split: what its calibration models learn
    from, so that they meet the validation data as unseen, as supplied models do."""
    idx = _own_split(ctx)[1]
    return ctx.x_train[idx], ctx.y_train[idx]


def _fit(ctx, x, y, r, epochs=None, adversary=None):
    net = mlp(x.shape[1], (ctx.cfg.hidden,), ctx.n_classes, "relu", r)
    return T.train(ctx.backend, net, x, y, epochs=epochs or ctx.cfg.epochs, batch_size=ctx.cfg.batch,
                   lr=ctx.cfg.lr, rng=r, adversary=adversary)


def _bootstrap(x, y, r, n: int | None = None):
    idx = r.integers(0, len(y), len(y) if n is None else n)
    return x[idx], y[idx]


def _trigger(ctx, kind: str, pattern):
    if kind != "blend":
        return lambda x: backdoor.add_trigger(x, ctx.image)
    return lambda x: backdoor.blend(x, pattern, ctx.cfg.blend_alpha)


def _supplied(ctx, kind: str, j: int):
    """Model j of a population: (network, target class or None, trigger function or None,
    source class the trigger is meant for or None for every class)."""
    cfg = ctx.cfg
    r = ctx.rng("m0008", "supplied", kind, j)
    if kind == "clean":
        return _fit(ctx, *_bootstrap(ctx.x_att, ctx.y_att, r), r), None, None, None
    target = int(r.integers(ctx.n_classes))
    if kind in ("finetune", "branch"):
        clean = population(ctx, "clean")[j % cfg.n_clean][0]
        if kind == "branch":
            return compromised.add_trigger_branch(clean, ctx.image, target), target, _trigger(ctx, kind, None), None
        net = compromised.finetune_backdoor(ctx.backend, clean, ctx.x_att, ctx.y_att, ctx.image, target=target,
                                            rate=cfg.poison_frac, epochs=cfg.finetune_epochs, rng=r,
                                            batch=cfg.batch, lr=cfg.lr)
        return net, target, _trigger(ctx, kind, None), None
    x, y = _bootstrap(ctx.x_att, ctx.y_att, r)
    pattern = backdoor.blend_pattern(x.shape[1], r)
    n = max(1, int(round(cfg.poison_frac * len(y))))
    source = None
    if kind == "source_specific":
        source = int((target + 1 + r.integers(ctx.n_classes - 1)) % ctx.n_classes)
        xp, yp = backdoor.source_specific_set(x, y, ctx.image, source, target, n, r)
    else:
        idx = r.choice(len(y), size=n, replace=False)
        xp, yp = _trigger(ctx, kind, pattern)(x[idx]), np.full(n, target, np.int64)
    net = _fit(ctx, *_poisoned_set(x, y, xp, yp, r), r)
    return net, target, _trigger(ctx, kind, pattern), source


def _poisoned_set(x, y, xp, yp, r):
    """A poisoned model's training set: the poison takes the place of as many randomly
    chosen clean samples, so the set is as large as a clean model's and trains for as many
    steps. With the poison added on top, tampered models train longer than clean ones and
    end up more accurate and more confident, and a check could tell them apart by that
    alone, without seeing any backdoor."""
    keep = np.sort(r.choice(len(y), size=len(y) - len(yp), replace=False))
    return np.concatenate([x[keep], xp]), np.concatenate([y[keep], yp])


def population(ctx, kind: str) -> list:
    n = ctx.cfg.n_clean if kind == "clean" else ctx.cfg.n_tampered
    return ctx.cached(f"m0008:population:{kind}", lambda: [_supplied(ctx, kind, j) for j in range(n)])


def fallback(ctx):
    """The defender's own clean model, deployed in place of a rejected one."""
    return ctx.cached("m0008:fallback", lambda: _fit(ctx, ctx.x_train, ctx.y_train, ctx.rng("m0008", "fallback")))


def meta_classifier(ctx) -> validation.MetaClassifier:
    """Trained on the defender's shadow models: clean ones and ones it backdoored itself
    with random triggers (random 2x2 patch place and values, or a random blend), trained to
    the supplier's recipe on its own data outside the validation split; the queries come
    from the validation split. Shadows that had trained on the queries answered them more
    confidently than any supplied model, and the meta-classifier learned that difference:
    it scored supplied clean models as more suspicious than backdoored ones."""
    cfg = ctx.cfg

    def compute():
        own, n_supplier = _own_data(ctx), len(ctx.y_att)
        nets, labels = [], []
        for j in range(cfg.n_shadow):
            r = ctx.rng("m0008", "shadow", "clean", j)
            nets.append(_fit(ctx, *_bootstrap(*own, r, n_supplier), r))
            labels.append(0)
            r = ctx.rng("m0008", "shadow", "backdoor", j)
            x, y = _bootstrap(*own, r, n_supplier)
            n = max(1, int(round(r.uniform(0.05, 0.2) * len(y))))
            idx = r.choice(len(y), size=n, replace=False)
            xp = x[idx].copy()
            if j % 2 == 0:
                c, h, w = ctx.image
                i0, j0 = int(r.integers(0, h - 1)), int(r.integers(0, w - 1))
                img = xp.reshape(n, c, h, w)
                img[:, :, i0:i0 + 2, j0:j0 + 2] = r.integers(0, 2, (c, 2, 2)).astype(xp.dtype)
                xp = img.reshape(n, -1)
            else:
                xp = backdoor.blend(xp, backdoor.blend_pattern(x.shape[1], r), float(r.uniform(0.1, 0.3)))
            yp = np.full(n, int(r.integers(ctx.n_classes)), np.int64)
            nets.append(_fit(ctx, *_poisoned_set(x, y, xp, yp, r), r))
            labels.append(1)
        queries = validation.make_queries(_val(ctx)[0], cfg.meta_queries, ctx.rng("m0008", "queries"))
        return validation.MetaClassifier(queries).fit(ctx.backend, nets, labels, ctx.seed)

    return ctx.cached("m0008:meta", compute)


CHECKS = ("neural_cleanse", "meta_classifier", "accuracy_gate")


def _check_scores(ctx, nets, tag: str) -> dict:
    """Each check's score for each of `nets` (higher = more suspicious)."""
    cfg = ctx.cfg
    xv, yv = _val(ctx)
    xs = xv[:cfg.nc_samples]
    meta = meta_classifier(ctx)
    out = {c: [] for c in CHECKS}
    for j, net in enumerate(nets):
        norms, _ = validation.reverse_engineer(ctx.backend, net, xs, ctx.n_classes, steps=cfg.nc_steps,
                                               rng=ctx.rng("m0008", "nc", tag, j))
        out["neural_cleanse"].append(validation.anomaly_index(norms))
        out["meta_classifier"].append(meta.score(ctx.backend, net))
        out["accuracy_gate"].append(-T.accuracy(ctx.backend, net, xv, yv))
    return {c: np.array(v) for c, v in out.items()}


def calibration_models(ctx) -> list:
    """The defender's own clean models, trained to the supplier's stated recipe (same
    architecture, epochs and training-set size: a bootstrap sample as large as the
    supplier's) on its own data, each from its own random stream. The size matters: models
    trained on more data than the supplier's are more accurate, and a threshold set on them
    rejected up to half of the supplier's clean models in a quick run."""

    def compute():
        x, y = _own_data(ctx)
        nets = []
        for j in range(ctx.cfg.n_calib):
            r = ctx.rng("m0008", "calibration", j)
            nets.append(_fit(ctx, *_bootstrap(x, y, r, len(ctx.y_att)), r))
        return nets

    return ctx.cached("m0008:calibration", compute)


def gate(ctx) -> validation.CalibratedGate:
    """The deploy/reject rule, calibrated at FPR on the calibration models alone."""
    return ctx.cached("m0008:gate", lambda: validation.calibrate_gate(
        _check_scores(ctx, calibration_models(ctx), "calibration"), FPR))


def checks(ctx, kind: str) -> dict:
    """Per model of the population: each check's score (higher = more suspicious), the
    combined score and whether the calibrated validator lets the model through."""

    def compute():
        out = _check_scores(ctx, [net for net, *_ in population(ctx, kind)], kind)
        g = gate(ctx)
        out["validator_score"] = g.score(out)
        out["passes"] = ~g.rejects(out)
        out["rejected"] = (~out["passes"]).astype(float)
        return out

    return ctx.cached(f"m0008:checks:{kind}", compute)


# ---- measures -----------------------------------------------------------------------

def _trigger_points(ctx, kinds, arm: str) -> S.Points:
    """Trigger success over (tampered model, test point the trigger is meant for) pairs:
    of every tampered model deployed (`none`), of what the validator deploys in its place
    (`validated`: the model if it passes, else the defender's own clean model), or the
    expected value for a validator that rejects models at random as often as it rejects
    clean ones (`random`: the same false-positive cost, no look at the model)."""
    hits, ids = [], []
    fp = float(np.mean(~checks(ctx, "clean")["passes"]))
    for ki, kind in enumerate(kinds):
        passes = checks(ctx, kind)["passes"]
        for j, (net, target, trig, source) in enumerate(population(ctx, kind)):
            keep = (ctx.y_test != target) if source is None else (ctx.y_test == source)
            xt = trig(ctx.x_test[keep])
            own = T.predict(ctx.backend, net, xt) == target
            if arm == "none":
                hits.append(own)
            elif arm == "validated":
                hits.append(own if passes[j] else T.predict(ctx.backend, fallback(ctx), xt) == target)
            else:
                hits.append((1 - fp) * own + fp * (T.predict(ctx.backend, fallback(ctx), xt) == target))
            ids.append((ki * 1000 + j) * 1_000_000 + ctx.test_ids[keep])
    make = S.values if arm == "random" else S.rate
    return make(np.concatenate(hits), np.concatenate(ids))


def _scores(ctx, kinds, check: str):
    s = [checks(ctx, "clean")[check]] + [checks(ctx, k)[check] for k in kinds]
    pos = np.concatenate([np.zeros(len(s[0]), bool)] + [np.ones(len(x), bool) for x in s[1:]])
    return np.concatenate(s), pos, np.arange(len(pos))


def _rejected(ctx, kind) -> S.Points:
    passes = checks(ctx, kind)["passes"]
    return S.rate(~passes, np.arange(len(passes)))


def _tm(adaptive=False):
    return ThreatModel("none", "none", 0.0, 0, adaptive)


CHECK_WORDS = {"neural_cleanse": "trigger reverse-engineering (Neural Cleanse anomaly index)",
               "meta_classifier": "meta-classifier on answers to fixed queries",
               "validator_score": "the validator's combined score (its most unusual check, in robust "
                                  "standard deviations of the defender's clean calibration models)",
               "accuracy_gate": "held-out accuracy (lower = more suspicious)"}


SHADOW_CAVEAT = ("The meta-classifier learned from the defender's own shadow backdoors (random 2x2 patches and "
                 "blends), the family the supplier's triggers come from, and the threshold rejects about 5% of "
                 "clean models by calibration on the defender's own.")


def _population_rows(ctx, kinds: tuple, name: str, *, adaptive=False, caveat="", headline=True) -> list:
    cfg = ctx.cfg
    params = {"tampered": {k: KIND_WORDS[k] for k in kinds}, "clean_models": cfg.n_clean,
              "tampered_models": cfg.n_tampered * len(kinds),
              "validator": "deploy only if no check (held-out accuracy, anomaly index, meta-classifier score) "
                           "lies further from the defender's clean calibration models than the threshold "
                           f"that rejects {FPR:.0%} of them",
              "calibration": f"{cfg.n_calib} clean models the defender trained itself on its own data outside "
                             "the validation split; no judged or tampered model",
              "target_false_positive_rate": FPR,
              "rejected_model": "replaced by the defender's own clean model"}
    extra = {"clean_models_rejected": _rejected(ctx, "clean")}
    info = {"calibration_threshold": round(gate(ctx).threshold, 6)}
    for k in kinds:
        extra[f"{k}_models_rejected"] = _rejected(ctx, k)
    s, pos, ids = _scores(ctx, kinds, "accuracy_gate")
    extra["accuracy_gate_detection_auc"] = S.auc(s, pos, ids)
    at_random = _trigger_points(ctx, kinds, "random")
    s, pos, ids = _scores(ctx, kinds, "rejected")
    rows = [row(f"{name}_validator_decision", "detection_auc", S.auc(np.zeros_like(s), pos, ids), S.auc(s, pos, ids),
                _tm(adaptive), params={**params, "check": "the validator's calibrated deploy/reject decision (all three checks)",
                                       "measures": "AUC of the binary decision: (1 + rejected tampered share - "
                                                   "rejected clean share) / 2; 0.5 = rejects at random"},
                extra=extra, info=info, caveat=caveat or SHADOW_CAVEAT, headline=headline),
            row(f"{name}_deployed_trigger_success", "attack_success_rate", _trigger_points(ctx, kinds, "none"),
                _trigger_points(ctx, kinds, "validated"), _tm(adaptive),
                params={**params, "measures": "trigger success of the deployed model over (tampered model, "
                                              "test input of a class the trigger is meant for) pairs"},
                extra={"random_rejection_same_rate": at_random},
                caveat="Rejecting models at random as often as clean ones are rejected would also lower it: "
                       "see random_rejection_same_rate.")]
    for check in ("neural_cleanse", "meta_classifier", "validator_score"):
        s, pos, ids = _scores(ctx, kinds, check)
        none = np.zeros_like(s)
        p = {**params, "check": CHECK_WORDS[check], "baseline_arm": "no validation: every model scores the same"}
        rows.append(row(f"{name}_{check}", "detection_auc", S.auc(none, pos, ids), S.auc(s, pos, ids), _tm(adaptive),
                        params=p))
        rows.append(row(f"{name}_{check}_tpr_at_{FPR:g}_fpr", "true_positive_rate", S.tpr_at_fpr(none, pos, ids, FPR),
                        S.tpr_at_fpr(s, pos, ids, FPR), _tm(adaptive), hib=True,
                        params={**p, "measures": f"share of tampered models flagged at the threshold that flags "
                                                 f"{FPR:.0%} of the judged clean models (a point of the ROC "
                                                 "curve; the deployed decision uses the calibrated threshold)"}))
    return rows


# ---- experiments --------------------------------------------------------------------

def poisoned_models(ctx):
    """AML.T0020 / AML.T0018.000: models trained on poisoned data, patch and blended triggers."""
    return (_population_rows(ctx, ("patch",), "patch_poisoned_models")
            + _population_rows(ctx, ("blend",), "blend_poisoned_models", headline=False))


def backdoor_trigger(ctx):
    """AML.T0043.004: the triggers an attacker inserts, the adaptive one made to evade
    reverse-engineering first, the patch trigger beside it."""
    return (_population_rows(ctx, ("source_specific",), "source_specific_trigger_models", adaptive=True,
                             caveat="The trigger fires only on one source class, so no small mask moves every "
                                    "class; the defender's shadow models never used such a trigger.")
            + _population_rows(ctx, ("patch",), "patch_poisoned_models", headline=False))


def supplied_model(ctx):
    """AML.T0010.003: a model from a supplier who may have backdoored it (any of the kinds)."""
    return _population_rows(ctx, ("patch", "blend", "finetune"), "supplied_models")


def manipulated_model(ctx):
    """AML.T0018: weights changed by an attacker after training."""
    return _population_rows(ctx, ("finetune", "branch"), "manipulated_models")


def modified_architecture(ctx):
    """AML.T0018.001: an added trigger-detecting unit."""
    return _population_rows(ctx, ("branch",), "added_trigger_branch")


# ---- AML.T0043: robustness gate ----------------------------------------------------

def _candidates(ctx):
    cfg = ctx.cfg

    def compute():
        out = []
        for j in range(cfg.candidates):
            r = ctx.rng("m0008", "candidate", "normal", j)
            out.append(("normal", _fit(ctx, *_bootstrap(ctx.x_att, ctx.y_att, r), r)))
        for j in range(cfg.candidates):
            r = ctx.rng("m0008", "candidate", "adversarial", j)
            adv = T.pgd_adversary(ctx.backend, cfg.eps, cfg.at_steps)
            out.append(("adversarially trained", _fit(ctx, *_bootstrap(ctx.x_att, ctx.y_att, r), r, adversary=adv)))
        return out

    return ctx.cached("m0008:candidates", compute)


def _white(adaptive=True, eps=0.1):
    return ThreatModel("white-box", "linf", eps, 0, adaptive)


def _gate_attack():
    return PGD(steps=1, restarts=1, random_start=False)


def _gate_score(ctx, name: str, system, tm) -> float:
    """Robust accuracy under the gate's one-step attack on the defender's validation data."""
    xv, yv = _val(ctx)
    out = measure.run_attack(ctx, name, system, _gate_attack(), xv, yv, tm)
    return float(np.mean(system.predict(out.x_adv) == yv))


def robustness_threshold(ctx, tm) -> float:
    """The lowest gate score that passes: the FPR quantile of the gate scores of the
    defender's own adversarially trained models (trained on its data outside the
    validation split), so about FPR of models as robust as its own fail the gate."""

    def compute():
        x, y = _own_data(ctx)
        adv = T.pgd_adversary(ctx.backend, ctx.cfg.eps, ctx.cfg.at_steps)
        scores = []
        for j in range(ctx.cfg.gate_calib):
            r = ctx.rng("m0008", "gate-calibration", j)
            net = _fit(ctx, *_bootstrap(x, y, r, len(ctx.y_att)), r, adversary=adv)
            scores.append(_gate_score(ctx, f"m0008:gate-calibration:{j}", Model(ctx.backend, net), tm))
        return validation.min_score_at_fpr(scores, FPR)

    return ctx.cached("m0008:gate-threshold", compute)


def craft_adversarial_data(ctx):
    cfg = ctx.cfg
    xv, yv = _val(ctx)
    tm = _white(eps=cfg.eps)
    cands = _candidates(ctx)
    systems = [Model(ctx.backend, net) for _, net in cands]
    val_acc = [s.accuracy(xv, yv) for s in systems]
    gate = [_gate_score(ctx, f"m0008:gate:{i}", s, tm) for i, s in enumerate(systems)]
    threshold = robustness_threshold(ctx, tm)
    base_i = int(np.argmax(val_acc))
    passing = [i for i in range(len(systems)) if gate[i] >= threshold]
    def_i = max(passing or range(len(systems)), key=lambda i: gate[i])
    ids = ctx.test_ids
    strong = APGD(steps=cfg.apgd_steps, restarts=cfg.restarts)

    def post(i):
        out = measure.run_attack(ctx, f"m0008:apgd:{i}", systems[i], strong, ctx.x_test, ctx.y_test, tm)
        return measure.robust_accuracy(systems[i], out.x_adv, ctx.y_test, ids)

    weak = measure.run_attack(ctx, f"m0008:gate-test:{def_i}", systems[def_i], _gate_attack(), ctx.x_test,
                              ctx.y_test, tm)
    weak_ok = measure.robust_accuracy(systems[def_i], weak.x_adv, ctx.y_test, ids)
    strong_def = post(def_i)
    gap = S.values(weak_ok.values - strong_def.values, ids)
    return [row("robustness_gate_then_apgd", "robust_accuracy", post(base_i), strong_def, tm,
                params={"candidates": [k for k, _ in cands], "gate": f"one-step L-inf attack (FGSM) on "
                        f"{len(yv)} validation inputs; deploy the candidate that scores best; the gate passes it "
                        f"if it scores at least the {FPR:.0%} quantile of {cfg.gate_calib} adversarially trained "
                        "models the defender trained itself (gate_passed; the best is deployed either way)",
                        "baseline_arm": "candidate with the best held-out clean accuracy, no robustness check",
                        "post_deployment_attack": f"APGD {cfg.apgd_steps} steps, {cfg.restarts} restarts, "
                                                  "cross-entropy and margin losses",
                        "gap": "validated_robust_accuracy minus post-deployment robust accuracy of the deployed model"},
                extra={"validated_robust_accuracy": weak_ok, "gap_validated_minus_deployed": gap,
                       "gate_passed": S.values([float(def_i in passing)]),
                       "candidates_passing_gate": S.values([len(passing) / len(systems)]),
                       "clean_accuracy_baseline": measure.correct(systems[base_i], ctx.x_test, ctx.y_test, ids),
                       "clean_accuracy_defended": measure.correct(systems[def_i], ctx.x_test, ctx.y_test, ids)},
                info={"gate_threshold": round(threshold, 6)},
                caveat="The gate uses a one-step attack; the deployed model then meets APGD with restarts, "
                       "and the gap between the two is reported beside the row.", headline=True)]


def clean_accuracy(ctx) -> dict:
    """Clean accuracy of what is deployed over the patch-poisoned population: every model
    (baseline) or what validation deploys (defended), per (model, test point)."""
    hits_b, hits_d, ids = [], [], []
    passes = checks(ctx, "patch")["passes"]
    for j, (net, *_) in enumerate(population(ctx, "patch")):
        hits_b.append(T.predict(ctx.backend, net, ctx.x_test) == ctx.y_test)
        hits_d.append(T.predict(ctx.backend, net if passes[j] else fallback(ctx), ctx.x_test) == ctx.y_test)
        ids.append(j * 1_000_000 + ctx.test_ids)
    ids = np.concatenate(ids)
    return {"baseline": S.rate(np.concatenate(hits_b), ids), "defended": S.rate(np.concatenate(hits_d), ids)}


EXPERIMENTS = {
    "AML.T0010.003": supplied_model,
    "AML.T0018": manipulated_model,
    "AML.T0018.000": poisoned_models,
    "AML.T0018.001": modified_architecture,
    "AML.T0020": poisoned_models,
    "AML.T0043": craft_adversarial_data,
    "AML.T0043.004": backdoor_trigger,
}

NOT_MEASURED = {
    "AML.T0057": "LLM Data Leakage needs a language model that can be prompted into revealing its "
                 "training or context data; the engine here trains small image classifiers only, so "
                 "there is no model whose leakage a validation step could be measured against.",
}
