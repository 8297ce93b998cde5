"""AML.M0002 Passive AI Output Obfuscation: one measured experiment per technique it mitigates.

One model (an MLP trained long on a few hundred images, so that it is overfit enough for
membership inference to be measurable) is served four ways: full probabilities (the
baseline), the top-1 label only, probabilities rounded to a few decimals, and a
reverse-sigmoid perturbation of the probabilities (after Lee et al., 2019) that keeps the
top-1 label. Each defended way is compared with the baseline on the same points at the
same threat model. The attacker adapts to what the API returns: with labels only it uses
label-only attacks (HopSkipJump, noise-robustness membership, label-trained copies), and
every shadow model or fingerprint library it trains is read through the same obfuscation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from atlaskb.defenses import measure, models
from atlaskb.defenses import stats as S
from atlaskb.defenses.attacks import extraction as ex
from atlaskb.defenses.attacks import fingerprint as fp
from atlaskb.defenses.attacks import privacy as pv
from atlaskb.defenses.attacks.gradient import PGD
from atlaskb.defenses.attacks.query import HopSkipJump, RayS, SimBA
from atlaskb.defenses.config import BaseConfig
from atlaskb.defenses.rows import row
from atlaskb.defenses.systems import Model, PostProcessed
from atlaskb.defenses.threat import ThreatModel
from atlaskb.engine import train as T

MITIGATION = "AML.M0002"
DESCRIPTION = (
    "One overfit MLP served four ways: full probabilities (baseline), top-1 label only, "
    "probabilities rounded to two decimals, and a reverse-sigmoid perturbation that keeps the "
    "top-1 label; attackers adapt to what the API returns (label-only attacks, shadow models "
    "and fingerprint libraries read through the same obfuscation)."
)

ARMS = ("label_only", "rounded", "reverse_sigmoid")
ARM_WORDS = {"label_only": "top-1 label only", "rounded": "probabilities rounded",
             "reverse_sigmoid": "reverse-sigmoid perturbed probabilities"}


@dataclass(frozen=True)
class Config(BaseConfig):
    epochs: int = 200                 # long training on few points: the target overfits
    eps: float = 0.15                 # L-inf budget of every evasion attack here
    target_train: int = 200           # the target's training set (members)
    round_decimals: int = 2
    rs_beta: float = 0.5
    rs_gamma: float = 0.3
    query_budget: int = 1000          # per attacked input
    attacked_points: int = 150        # test points the query attacks run on
    mi_points: int = 200              # members and as many non-members
    mi_noise_samples: int = 30
    mi_noise_sigma: float = 0.15
    inversion_starts: int = 3
    inversion_steps: int = 60
    inversion_samples: int = 20
    inversion_sigma: float = 0.2
    inversion_lr: float = 0.03
    inversion_tv: float = 0.3
    copy_budget: int = 500
    copy_rounds: int = 5
    copy_epochs: int = 80
    pool_mixtures: int = 3
    pgd_steps: int = 20
    shadow_per_family: int = 12
    targets_per_family: int = 6
    probes: int = 60
    fingerprint_epochs: int = 30
    ontology_orders: int = 30


FULL = Config()
QUICK = replace(FULL, n_test=300, query_budget=500, attacked_points=60, inversion_steps=40, copy_budget=300,
                copy_rounds=3, copy_epochs=50, shadow_per_family=8, targets_per_family=4,
                fingerprint_epochs=15)



# ---- the four ways of serving the model ---------------------------------------------

def label_only(s: np.ndarray) -> np.ndarray:
    """One-hot of the top label: the API answers the label alone."""
    out = np.zeros_like(s)
    out[np.arange(len(s)), s.argmax(axis=1)] = 1.0
    return out


def rounded(decimals: int):
    def post(s):
        return np.round(s, decimals)
    return post


def reverse_sigmoid(beta: float, gamma: float):
    """y - beta (sigmoid(gamma logit(y)) - 1/2), clipped and renormalised (Lee et al., 2019):
    small probabilities are pushed up and reordered, large ones pulled down, so the scores
    mislead a copy or a threshold; if the top label moved, it is swapped back."""
    def post(s):
        p = np.clip(np.asarray(s, np.float64), 1e-7, 1 - 1e-7)
        z = gamma * np.log(p / (1 - p))
        q = np.clip(p - beta * (1.0 / (1.0 + np.exp(-z)) - 0.5), 1e-7, None)
        q /= q.sum(axis=1, keepdims=True)
        top, now = p.argmax(axis=1), q.argmax(axis=1)
        rows = np.flatnonzero(top != now)
        a, b = q[rows, top[rows]].copy(), q[rows, now[rows]].copy()
        q[rows, top[rows]], q[rows, now[rows]] = b, a
        return q
    return post


def _post(cfg, arm: str):
    return {"label_only": label_only, "rounded": rounded(cfg.round_decimals),
            "reverse_sigmoid": reverse_sigmoid(cfg.rs_beta, cfg.rs_gamma)}[arm]


def serve(cfg, model, arm: str):
    """`model` (a system) as the API serves it: `baseline` is the model itself."""
    return model if arm == "baseline" else PostProcessed(model, _post(cfg, arm), name=arm)


def _member_ids(ctx) -> np.ndarray:
    """Indices (into ctx.x_train) of the target's training set."""
    n = min(ctx.cfg.target_train, len(ctx.y_train))
    return np.sort(ctx.rng("target-members").choice(len(ctx.y_train), n, replace=False))


def _train_target(ctx, x, y, stream):
    r = ctx.rng(stream)
    net = models.build(models.BASELINE_SPEC, x.shape[1], ctx.n_classes, ctx.image, r)
    return T.train(ctx.backend, net, x, y, epochs=ctx.cfg.epochs, batch_size=ctx.cfg.batch, lr=ctx.cfg.lr, rng=r)


def target(ctx):
    def compute():
        m = _member_ids(ctx)
        return Model(ctx.backend, _train_target(ctx, ctx.x_train[m], ctx.y_train[m], "target"))
    return ctx.cached("m0002:target", compute)


def system(ctx, arm: str):
    return ctx.cached(f"m0002:system:{arm}", lambda: serve(ctx.cfg, target(ctx), arm))


def clean_accuracy(ctx) -> dict:
    ids = ctx.test_ids
    return {"baseline": measure.correct(system(ctx, "baseline"), ctx.x_test, ctx.y_test, ids),
            "defended": measure.correct(system(ctx, "label_only"), ctx.x_test, ctx.y_test, ids)}


def _tag(name: str, arm: str) -> str:
    return f"{name} [{arm}]"


def _arm_params(ctx, arm: str) -> dict:
    cfg = ctx.cfg
    p = {"baseline_api": "full probabilities", "defended_api": ARM_WORDS[arm]}
    if arm == "rounded":
        p["decimals"] = cfg.round_decimals
    if arm == "reverse_sigmoid":
        p["beta"], p["gamma"] = cfg.rs_beta, cfg.rs_gamma
    return p


# ---- black-box evasion (AML.T0043.001) ------------------------------------------------

def _api(ctx, adaptive=True):
    """Query access to whatever the API returns (probabilities, or a one-hot label)."""
    return ThreatModel("scores", "linf", ctx.cfg.eps, ctx.cfg.query_budget, adaptive)


def _attacked(ctx):
    """A random subset of the test points (the same for every arm) for the query attacks."""
    def compute():
        k = min(ctx.cfg.attacked_points, len(ctx.y_test))
        i = np.sort(ctx.rng("attacked-points").choice(len(ctx.y_test), k, replace=False))
        return ctx.x_test[i], ctx.y_test[i], ctx.test_ids[i]
    return ctx.cached("m0002:attacked-points", compute)


def _run(ctx, name: str, arm: str, system_, attack, tm):
    """`attack` on the attacked points, cached per arm, with one random stream per attack
    for every arm (common random numbers: the arms differ only in what the API returns)."""
    x, y, _ = _attacked(ctx)
    return ctx.cached(f"m0002:attack:{name}:{arm}", lambda: attack(system_, x, y, tm, ctx.rng("attack", name)))


def simba(ctx, arm):
    return _run(ctx, "simba", arm, system(ctx, arm), SimBA(), _api(ctx))


def hsj(ctx, arm):
    return _run(ctx, "hopskipjump", arm, system(ctx, arm), HopSkipJump(ctx.x_att), _api(ctx))


def rays(ctx, arm):
    return _run(ctx, "rays", arm, system(ctx, arm), RayS(), _api(ctx))


def _query_suite(ctx, arm):
    """Every query attack's inputs against `arm`: one score-based, two label-only."""
    return [simba(ctx, arm).x_adv, hsj(ctx, arm).x_adv, rays(ctx, arm).x_adv]


def _robust(ctx, arm, x_adv, points=None):
    x, y, ids = points or _attacked(ctx)
    return measure.robust_accuracy(system(ctx, arm), x_adv, y, ids)


def _union(ctx, arm, xs) -> S.Points:
    x, y, ids = _attacked(ctx)
    ok = np.ones(len(y), bool)
    for xa in xs:
        ok &= system(ctx, arm).predict(xa) == y
    return S.rate(ok, ids)


def black_box(ctx):
    rows = []
    x, y, ids = _attacked(ctx)
    base = system(ctx, "baseline")
    for name, fn, words in (("simba_logprob_margin", simba, "score-based: SimBA on the log-probability margin"),
                            ("hopskipjump_label_only", hsj, "label-only: HopSkipJump (L-inf)"),
                            ("rays_label_only", rays, "label-only: RayS (L-inf)")):
        ob = fn(ctx, "baseline")
        for arm in ARMS:
            od = fn(ctx, arm)
            p = {**_arm_params(ctx, arm), "attack": words, "attacked_points": len(y)}
            rows.append(row(_tag(name, arm), "attack_success_rate", measure.success_rate(base, x, y, ob, ids),
                            measure.success_rate(system(ctx, arm), x, y, od, ids), _api(ctx), params=p,
                            caveat="Success over the points each API's model labelled correctly before the attack."))
            rows.append(row(_tag(name, arm) + " queries", "queries", measure.queries(base, x, y, ob, ids),
                            measure.queries(system(ctx, arm), x, y, od, ids), _api(ctx),
                            params={**p, "queries": "mean per correctly classified input until success, "
                                                    "the budget when it failed (more is better for the defender)"}))
    b = _union(ctx, "baseline", _query_suite(ctx, "baseline"))
    for arm in ARMS:
        rows.append(row(_tag("adaptive_best_of_score_and_label_attacks", arm), "robust_accuracy", b,
                        _union(ctx, arm, _query_suite(ctx, arm)), _api(ctx),
                        params={**_arm_params(ctx, arm), "rule": "per input, robust only if none of SimBA, "
                                "HopSkipJump and RayS fools the API"},
                        extra={"simba_only_defended": _robust(ctx, arm, simba(ctx, arm).x_adv)},
                        caveat="Each attack has the whole query budget, so the union is an attacker with up "
                               "to three times the queries; both arms get the same.", headline=arm == "label_only"))
    return rows


# ---- membership inference (AML.T0024.000) --------------------------------------------

def _mi_points(ctx):
    """Members (from the target's training set) and as many non-members (test points),
    with dataset ids, and the membership truth."""
    def compute():
        r = ctx.rng("mi-points")
        m = _member_ids(ctx)
        k = min(ctx.cfg.mi_points, len(m), len(ctx.y_test))
        mem = r.choice(m, k, replace=False)
        non = r.choice(len(ctx.y_test), k, replace=False)
        x = np.concatenate([ctx.x_train[mem], ctx.x_test[non]])
        y = np.concatenate([ctx.y_train[mem], ctx.y_test[non]])
        ids = np.concatenate([ctx.split.train[mem], ctx.test_ids[non]])
        truth = np.concatenate([np.ones(k, bool), np.zeros(k, bool)])
        return x, y, ids, truth
    return ctx.cached("m0002:mi-points", compute)


def _shadow(ctx):
    """The attacker's shadow model: same architecture and recipe, trained on half its own data."""
    def compute():
        r = ctx.rng("shadow-split")
        perm = r.permutation(len(ctx.y_att))
        half = min(len(perm) // 2, ctx.cfg.target_train)
        i_in, i_out = perm[:half], perm[half:2 * half]
        net = _train_target(ctx, ctx.x_att[i_in], ctx.y_att[i_in], "shadow")
        return Model(ctx.backend, net), i_in, i_out
    return ctx.cached("m0002:shadow", compute)


def membership_scores(ctx, arm):
    def compute():
        x, y, _, _ = _mi_points(ctx)
        api = system(ctx, arm)
        shadow, i_in, i_out = _shadow(ctx)
        sh = serve(ctx.cfg, shadow, arm)  # the attacker obfuscates its shadow's answers alike
        attack = pv.ShadowAttack().fit(sh, ctx.x_att[i_in], ctx.y_att[i_in], ctx.x_att[i_out], ctx.y_att[i_out])
        return {"confidence_threshold": pv.true_label_score(api, x, y),
                "shadow_model": attack.score(api, x, y),
                "label_only_noise_robustness": pv.noise_robustness(
                    api, x, y, ctx.rng("mi-noise"), ctx.cfg.mi_noise_samples, ctx.cfg.mi_noise_sigma)}
    return ctx.cached(f"m0002:mi:{arm}", compute)


MI_WORDS = {"confidence_threshold": "returned score of the true label",
            "shadow_model": "shadow model (same recipe, attacker's data, outputs obfuscated alike)",
            "label_only_noise_robustness": "share of noisy copies still given the true label (labels only)"}


def membership(ctx):
    cfg = ctx.cfg
    _, _, ids, truth = _mi_points(ctx)
    tm = ThreatModel("scores", "none", 0.0, cfg.mi_noise_samples, True)
    base = membership_scores(ctx, "baseline")
    rows = []
    common = {"members": int(truth.sum()), "non_members": int((~truth).sum()),
              "target_training_set": min(cfg.target_train, len(ctx.y_train)), "target_epochs": cfg.epochs,
              "auc_interval": "DeLong placement values, floored (stats.auc)"}

    def best(scores):
        aucs = {k: S.auc(v, truth, ids) for k, v in scores.items()}
        return aucs[max(aucs, key=lambda k: (aucs[k].mean, k))]

    for arm in ARMS:
        d = membership_scores(ctx, arm)
        rows.append(row(_tag("best_membership_attack", arm), "auc", best(base), best(d), tm,
                        params={**common, **_arm_params(ctx, arm), "over": list(MI_WORDS)},
                        caveat="Per arm and seed the attack with the highest AUC is taken, chosen with "
                               "hindsight on the scored points (an upper bound on the attacker's choice).",
                        headline=arm == "label_only"))
        for name in MI_WORDS:
            rows.append(row(_tag(name, arm), "auc", S.auc(base[name], truth, ids), S.auc(d[name], truth, ids),
                            tm, params={**common, **_arm_params(ctx, arm), "attack": MI_WORDS[name]},
                            extra={"tpr_at_1pct_fpr_baseline": S.tpr_at_fpr(base[name], truth, ids),
                                   "tpr_at_1pct_fpr_defended": S.tpr_at_fpr(d[name], truth, ids)}))
        rows.append(row(_tag("shadow_model tpr@1%fpr", arm), "true_positive_rate",
                        S.tpr_at_fpr(base["shadow_model"], truth, ids), S.tpr_at_fpr(d["shadow_model"], truth, ids),
                        tm, hib=False, params={**common, **_arm_params(ctx, arm), "false_positive_rate": 0.01},
                        caveat="The threshold is read off the same non-members; its own error is not in the "
                               "interval."))
    return rows


# ---- model inversion (AML.T0024.001) -------------------------------------------------

def _judge(ctx):
    """An independent classifier (RBF SVM on the attacker's split, never the target's data)."""
    def compute():
        from sklearn.svm import SVC
        return SVC(C=10.0, gamma="scale").fit(ctx.x_att, ctx.y_att)
    return ctx.cached("m0002:judge", compute)


def inversion_hits(ctx, arm):
    def compute():
        cfg = ctx.cfg
        xr, t, q = pv.invert_classes(system(ctx, arm), ctx.n_classes, ctx.x_att.shape[1], ctx.rng("invert"),
                                     starts=cfg.inversion_starts, steps=cfg.inversion_steps,
                                     samples=cfg.inversion_samples, sigma=cfg.inversion_sigma,
                                     lr=cfg.inversion_lr, tv=cfg.inversion_tv, image=ctx.image)
        return _judge(ctx).predict(xr) == t, q
    return ctx.cached(f"m0002:invert:{arm}", compute)


def inversion(ctx):
    cfg = ctx.cfg
    hb, q = inversion_hits(ctx, "baseline")
    ids = np.arange(len(hb))
    tm = ThreatModel("scores", "none", 0.0, q, True)
    rows = []
    for arm in ARMS:
        hd, _ = inversion_hits(ctx, arm)
        rows.append(row(_tag("class_representative_inversion", arm), "attack_success_rate", S.rate(hb, ids),
                        S.rate(hd, ids), tm, headline=arm == "label_only",
                        params={**_arm_params(ctx, arm), "reconstructions": int(len(hb)),
                                "per_class": cfg.inversion_starts, "queries_per_reconstruction": q,
                                "judge": "RBF SVM trained on the attacker's split (independent of the target)",
                                "measures": "share of reconstructions the judge labels as the intended class",
                                "chance": 1.0 / ctx.n_classes},
                        caveat="The query budget is per reconstruction; reconstructions start from noise, so a "
                               "success means the class is recognisable, not that a training image was "
                               "recovered."))
    return rows


# ---- extraction and proxies (AML.T0024.002, AML.T0005, AML.T0005.001) ----------------

def _pool(ctx):
    return ctx.cached("m0002:pool", lambda: ex.query_pool(ctx.x_att, ctx.rng("pool"), ctx.cfg.pool_mixtures))


def _soft(arm: str, adaptive: bool) -> bool:
    """Soft targets where the API returns honest probabilities; the adaptive attacker trains
    on the top label when they are labels only or deliberately perturbed."""
    if arm == "label_only":
        return False
    return not (adaptive and arm == "reverse_sigmoid")


def copy(ctx, arm, active: bool, adaptive: bool = True):
    def compute():
        cfg = ctx.cfg
        kw = {"epochs": cfg.copy_epochs, "batch": cfg.batch, "lr": cfg.lr}
        idx, answers = ctx.cached(f"m0002:queries:{arm}:{active}", lambda: ex.choose_queries(
            ctx.backend, system(ctx, arm), _pool(ctx), cfg.copy_budget, active, cfg.copy_rounds, ctx.n_classes,
            ctx.image, rng=ctx.rng("copy-queries", str(active)), **kw))
        net = ex.copycat(ctx.backend, _pool(ctx), idx, answers, _soft(arm, adaptive), ctx.n_classes, ctx.image,
                         rng=ctx.rng("copy", str(active)), **kw)
        return Model(ctx.backend, net)
    return ctx.cached(f"m0002:copy:{arm}:{active}:{_soft(arm, adaptive)}", compute)


def _fidelity(ctx, c) -> S.Points:
    return S.rate(c.predict(ctx.x_test) == target(ctx).predict(ctx.x_test), ctx.test_ids)


def _copy_acc(ctx, c) -> S.Points:
    return measure.correct(c, ctx.x_test, ctx.y_test, ctx.test_ids)


def _extract_tm(ctx):
    return ThreatModel("scores", "none", 0.0, ctx.cfg.copy_budget, True)


def _extraction_rows(ctx, active: bool, name: str, headline_metric: str):
    cfg = ctx.cfg
    rows = []
    cb = copy(ctx, "baseline", active)
    how = ("active: a random first round, then the pool images the interim copy is least sure of "
           f"({cfg.copy_rounds} rounds)" if active else "random pool images")
    for arm in ARMS:
        cd = copy(ctx, arm, active)
        p = {**_arm_params(ctx, arm), "query_budget": cfg.copy_budget, "sampling": how,
             "query_pool": f"attacker's images plus {cfg.pool_mixtures}x as many mixtures of pairs",
             "copy": "mlp-relu (100)", "targets": "soft (returned scores) for the baseline; defended: "
             + ("top label" if not _soft(arm, True) else "soft (returned scores)")}
        extra = {}
        if arm == "reverse_sigmoid":
            extra["fidelity_nonadaptive_soft_targets"] = _fidelity(ctx, copy(ctx, arm, active, adaptive=False))
        rows.append(row(_tag(f"{name} fidelity", arm), "fidelity", _fidelity(ctx, cb), _fidelity(ctx, cd),
                        _extract_tm(ctx), params={**p, "measures": "agreement of the copy's labels with the "
                                                                   "victim's on the test points"},
                        extra=extra, headline=headline_metric == "fidelity" and arm == "label_only",
                        caveat=_BUDGET_IS_TOTAL))
        rows.append(row(_tag(f"{name} accuracy", arm), "accuracy", _copy_acc(ctx, cb), _copy_acc(ctx, cd),
                        _extract_tm(ctx), hib=False, params={**p, "measures": "test accuracy of the attacker's "
                                                                              "copy (lower is better for the defender)"},
                        caveat=_BUDGET_IS_TOTAL))
    return rows


_BUDGET_IS_TOTAL = "The query budget is the total the attacker spends building its copy, not a budget per input."


def extract(ctx):
    return _extraction_rows(ctx, False, "copycat_random", "fidelity")


def replicate(ctx):
    return _extraction_rows(ctx, True, "copycat_active", "fidelity")


def transfer_x(ctx, arm):
    """PGD on the attacker's active copy at eps, against the copy (white-box on the proxy)."""
    return _run(ctx, "transfer-pgd", arm, copy(ctx, arm, True), PGD(steps=ctx.cfg.pgd_steps),
                ThreatModel("white-box", "linf", ctx.cfg.eps, 0, False)).x_adv


def proxy(ctx):
    cfg = ctx.cfg
    tm = ThreatModel("scores", "linf", cfg.eps, cfg.copy_budget, True)
    b = _robust(ctx, "baseline", transfer_x(ctx, "baseline"))
    rows = []
    for arm in ARMS:
        rows.append(row(_tag("transfer_from_proxy", arm), "robust_accuracy", b,
                        _robust(ctx, arm, transfer_x(ctx, arm)), tm, headline=arm == "label_only",
                        params={**_arm_params(ctx, arm), "proxy": "active copycat trained from the API's answers",
                                "query_budget": cfg.copy_budget, "attack_on_proxy": f"PGD, {cfg.pgd_steps} steps",
                                "attacked_points": int(len(_attacked(ctx)[1]))},
                        extra={"proxy_fidelity_baseline": _fidelity(ctx, copy(ctx, "baseline", True)),
                               "proxy_fidelity_defended": _fidelity(ctx, copy(ctx, arm, True))},
                        caveat="The query budget is for building the proxy; the adversarial inputs are then "
                               "sent once each."))
    return rows


# ---- model family (AML.T0014) ---------------------------------------------------------

def _fingerprint_models(ctx):
    def compute():
        cfg, be = ctx.cfg, ctx.backend
        fams = fp.families(ctx.image)
        r = ctx.rng("fingerprint", "attacker")
        probes = fp.make_probes(ctx.x_att, cfg.probes, r)
        kw = {"epochs": cfg.fingerprint_epochs, "batch": cfg.batch, "lr": cfg.lr}
        shadows = [(fi, fp.random_model(be, fam, ctx.x_att, ctx.y_att, ctx.n_classes, ctx.image, rng=r, **kw))
                   for fi, fam in enumerate(fams) for _ in range(cfg.shadow_per_family)]
        rd = ctx.rng("fingerprint", "defender")
        victims = [(fam, fp.random_model(be, fam, ctx.x_train, ctx.y_train, ctx.n_classes, ctx.image, rng=rd, **kw))
                   for fam in fams for _ in range(cfg.targets_per_family)]
        return fams, probes, shadows, victims
    return ctx.cached("m0002:fingerprint-models", compute)


def _with_top_label(s: np.ndarray) -> np.ndarray:
    return np.hstack([s, label_only(s)])


def _probe_view(ctx, net, arm):
    """What the fingerprinting attacker records from one model behind the API: the answer and
    its top label (the label is in every answer; log-probabilities of tiny classes are noisy
    across random inits, and an attacker with scores loses nothing by also reading labels)."""
    return PostProcessed(serve(ctx.cfg, Model(ctx.backend, net), arm), _with_top_label, name="answer+label")


def fingerprint_hits(ctx, arm):
    def compute():
        fams, probes, shadows, victims = _fingerprint_models(ctx)
        feats = np.array([fp.features(_probe_view(ctx, n, arm), probes) for _, n in shadows])
        finger = fp.Fingerprinter(probes, fams).fit(feats, np.array([fi for fi, _ in shadows]))
        return np.array([finger.identify(_probe_view(ctx, n, arm)) == fam for fam, n in victims])
    return ctx.cached(f"m0002:fingerprint:{arm}", compute)


def family(ctx):
    cfg = ctx.cfg
    hb = fingerprint_hits(ctx, "baseline")
    ids = np.arange(len(hb))
    tm = ThreatModel("scores", "none", 0.0, cfg.probes, True)
    fams = _fingerprint_models(ctx)[0]
    return [row(_tag("fingerprint_from_probe_answers", arm), "identification_accuracy", S.rate(hb, ids),
                S.rate(fingerprint_hits(ctx, arm), ids), tm, hib=False, headline=arm == "label_only",
                params={**_arm_params(ctx, arm), "families": fams, "shadow_models_per_family": cfg.shadow_per_family,
                        "probes": cfg.probes, "victims": int(len(hb)), "chance": 1.0 / len(fams),
                        "features": "log of each answer and of its top label on every probe",
                        "adaptation": "the fingerprint classifier is retrained on the shadow models' answers "
                                      "obfuscated the same way"},
                caveat="Few victim models per seed, so the interval is wide.")
            for arm in ARMS]


# ---- ontology (AML.T0013) --------------------------------------------------------------

def _classes_named(answer: np.ndarray, full_vector: bool) -> np.ndarray:
    return np.arange(len(answer)) if full_vector else np.array([int(answer.argmax())])


def ontology_queries(ctx, arm) -> np.ndarray:
    """Per random order of the attacker's images: queries until every class has been named
    by an answer. A score vector names every class it scores; a label names one."""
    def compute():
        r = ctx.rng("ontology")
        api = system(ctx, arm)
        answers = api.scores(ctx.x_att)
        full = arm != "label_only"
        out = []
        for _ in range(ctx.cfg.ontology_orders):
            seen, q = set(), 0
            for i in r.permutation(len(answers)):
                q += 1
                seen.update(_classes_named(answers[i], full).tolist())
                if len(seen) == ctx.n_classes:
                    break
            out.append(q if len(seen) == ctx.n_classes else len(answers))
        return np.array(out, np.float64)
    return ctx.cached(f"m0002:ontology:{arm}", compute)


def ontology(ctx):
    b = ontology_queries(ctx, "baseline")
    ids = np.arange(len(b))
    tm = ThreatModel("scores", "none", 0.0, 0, True)
    return [row(_tag("queries_until_every_class_seen", arm), "queries", S.values(b, ids),
                S.values(ontology_queries(ctx, arm), ids), tm, headline=arm == "label_only",
                params={**_arm_params(ctx, arm), "orders": ctx.cfg.ontology_orders,
                        "queries_from": "the attacker's own images in random order",
                        "rule": "a score vector names every class it scores; a label names one"},
                caveat="A small row: it counts queries to learn the class list, which any label-returning "
                       "API gives away eventually.")
            for arm in ARMS]


# ---- worst case (AML.T0043) -------------------------------------------------------------

def craft_adversarial_data(ctx):
    def suite(arm):
        return _query_suite(ctx, arm) + [transfer_x(ctx, arm)]
    b = _union(ctx, "baseline", suite("baseline"))
    return [row(_tag("worst_case_linf_per_input", arm), "robust_accuracy", b, _union(ctx, arm, suite(arm)),
                _api(ctx), headline=arm == "label_only",
                params={**_arm_params(ctx, arm), "over": ["simba (scores)", "hopskipjump (labels)", "rays (labels)",
                                                          "transfer from an active copycat proxy"],
                        "rule": "per test input, robust only if no attack at this eps fools the API"},
                caveat="The proxy's queries come on top of each input's budget.")
            for arm in ARMS]


EXPERIMENTS = {
    "AML.T0005": proxy,
    "AML.T0005.001": replicate,
    "AML.T0013": ontology,
    "AML.T0014": family,
    "AML.T0024.000": membership,
    "AML.T0024.001": inversion,
    "AML.T0024.002": extract,
    "AML.T0043": craft_adversarial_data,
    "AML.T0043.001": black_box,
}

NOT_MEASURED = {
    "AML.T0042": "Verify Attack is the attacker checking that its attack worked; every way of "
                 "serving here still returns the top-1 label, which is all an evasion check needs, "
                 "so output obfuscation cannot change it by construction, and there is no model "
                 "property left to measure.",
    "AML.T0063": "Discover AI Model Outputs concerns what a deployed system emits beyond the "
                 "model (logs, extra fields, side channels); the model here has no outputs "
                 "besides the ones the API obfuscates, so there is nothing for an experiment on "
                 "the model to discover.",
}
