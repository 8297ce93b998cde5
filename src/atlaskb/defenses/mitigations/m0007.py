"""AML.M0007 Sanitize Training Data: one measured experiment for each technique it mitigates.

The defender receives training data, part of which the attacker controls, and filters it
before training: spectral signatures and activation clustering on the hidden features of
a model trained on the data as received, and a confident-learning label-noise filter on
cross-validated probabilities (`atlaskb.defenses.sanitize`). The model is then retrained
on what the filter kept. The baseline trains on the data as received. Both arms use the
same architecture, epochs, initial weights and batch-order stream, and are scored on the
same test points. Each filter is its own row; the headline row of a backdoor link is
activation clustering, chosen before any measurement because it needs no assumed poison
budget (spectral signatures remove a fixed share of every label).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from atlaskb.defenses import measure, sanitize
from atlaskb.defenses import stats as S
from atlaskb.defenses.attacks import backdoor
from atlaskb.defenses.config import BaseConfig
from atlaskb.defenses.rows import row
from atlaskb.defenses.systems import Model
from atlaskb.defenses.threat import ThreatModel
from atlaskb.engine import train as T
from atlaskb.engine.network import mlp

MITIGATION = "AML.M0007"
DESCRIPTION = (
    "Training-data filters applied before training (spectral signatures and activation clustering "
    "on a model's hidden features, a confident-learning label-noise filter), the model retrained on "
    "what each keeps, compared with the same model trained on the data as received."
)

HEADLINE_FILTER = "activation_clustering"


@dataclass(frozen=True)
class Config(BaseConfig):
    epochs: int = 40
    hidden: int = 64
    target_class: int = 0
    poison_frac: float = 0.05            # share of the received training set that is poison
    strong_frac: float = 0.10            # AML.T0018.000: the attacker controls more of the data
    poison_rates: tuple = (0.01, 0.03, 0.05, 0.10)
    blend_alpha: float = 0.2
    adaptive_covers: float = 1.0         # cover samples per poisoned sample (adaptive trigger)
    third_party_poison: float = 0.10     # AML.T0010.002: poisoned share of the third party's data
    corruption: float = 0.2              # AML.T0059: share of labels the attacker changes
    spectral_eps: float = 0.2            # defender's bound on the poisoned share of one label
    ac_max_size: float = 0.35
    ac_silhouette: float = 0.15
    cl_folds: int = 3


FULL = Config()
QUICK = replace(FULL, epochs=20, n_test=300, poison_rates=(0.01, 0.05, 0.10), cl_folds=2)



# ---- the data as received -----------------------------------------------------------

def _n_poison(n_clean: int, frac: float) -> int:
    """Poison count that makes `frac` of the received set: n_p / (n + n_p) = frac."""
    return max(1, int(round(frac * n_clean / (1.0 - frac))))


def _pattern(ctx):
    return ctx.cached("m0007:pattern", lambda: backdoor.blend_pattern(ctx.x_train.shape[1], ctx.rng("pattern")))


def trigger_fn(ctx, kind: str):
    """What the attacker adds to a test input to fire the backdoor of `kind`."""
    if kind == "patch":
        return lambda x: backdoor.add_trigger(x, ctx.image)
    return lambda x: backdoor.blend(x, _pattern(ctx), ctx.cfg.blend_alpha)


def _poison(ctx, kind: str, x_src, y_src, n: int, stream: str):
    """(x, y, is_target_labelled) the attacker adds, built from its own inputs."""
    cfg, r = ctx.cfg, ctx.rng("poison", stream)
    if kind == "adaptive":
        return backdoor.adaptive_blend_set(x_src, y_src, ctx.image, _pattern(ctx), cfg.target_class, n,
                                           cfg.blend_alpha, r, cfg.adaptive_covers)
    idx = r.choice(len(x_src), size=min(n, len(x_src)), replace=False)
    xp = trigger_fn(ctx, kind)(x_src[idx])
    return xp, np.full(len(idx), cfg.target_class, np.int64), np.ones(len(idx), bool)


def received(ctx, scenario: str):
    """The defender's training set as received, for a scenario named `kind:detail`:
    `patch:0.05`, `blend:0.1`, `adaptive:0.05` (poison from the attacker's split added to
    the defender's data), `merged:patch` (AML.T0010.002: the attacker's split is a
    third-party data set the victim merges with its own, a share of it poisoned),
    `labels:random` / `labels:pair` (AML.T0059: labels changed in place).
    Returns (x, y, is_bad) with is_bad marking what the attacker made wrong."""

    def compute():
        cfg = ctx.cfg
        kind, _, detail = scenario.partition(":")
        x, y = ctx.x_train, ctx.y_train
        if kind in ("patch", "blend", "adaptive"):
            xp, yp, bad = _poison(ctx, kind, ctx.x_att, ctx.y_att, _n_poison(len(y), float(detail)), scenario)
            return np.concatenate([x, xp]), np.concatenate([y, yp]), np.concatenate([np.zeros(len(y), bool), bad])
        if kind == "merged":
            n_bad = max(1, int(round(cfg.third_party_poison * len(ctx.y_att))))
            r = ctx.rng("poison", scenario)
            bad_idx = r.choice(len(ctx.y_att), size=n_bad, replace=False)
            x3, y3 = ctx.x_att.copy(), ctx.y_att.copy()
            x3[bad_idx] = trigger_fn(ctx, detail)(x3[bad_idx])
            y3[bad_idx] = cfg.target_class
            bad3 = np.zeros(len(y3), bool)
            bad3[bad_idx] = True
            return np.concatenate([x, x3]), np.concatenate([y, y3]), np.concatenate([np.zeros(len(y), bool), bad3])
        if kind == "labels":
            r = ctx.rng("corrupt", scenario)
            k = int(round(cfg.corruption * len(y)))
            idx = r.choice(len(y), size=k, replace=False)
            y2 = y.copy()
            if detail == "random":
                y2[idx] = (y[idx] + r.integers(1, ctx.n_classes, size=k)) % ctx.n_classes
            else:  # class pair: every changed label moves to the next class
                y2[idx] = (y[idx] + 1) % ctx.n_classes
            return x.copy(), y2, y2 != y
        raise ValueError(f"unknown scenario {scenario!r}")

    return ctx.cached(f"m0007:received:{scenario}", compute)


# ---- training and filtering ---------------------------------------------------------

def _fit(ctx, x, y, stream: str = "train", epochs: int | None = None):
    r = ctx.rng("m0007", stream)
    net = mlp(x.shape[1], (ctx.cfg.hidden,), ctx.n_classes, "relu", r)
    return T.train(ctx.backend, net, x, y, epochs=epochs or ctx.cfg.epochs, batch_size=ctx.cfg.batch,
                   lr=ctx.cfg.lr, rng=r)


def as_received(ctx, scenario: str):
    """The baseline: trained on the data as received (same stream as every retrained arm)."""
    def compute():
        x, y, _ = received(ctx, scenario)
        return _fit(ctx, x, y)
    return ctx.cached(f"m0007:model:{scenario}:none", compute)


def removed(ctx, scenario: str, filt: str) -> np.ndarray:
    cfg = ctx.cfg

    def compute():
        x, y, _ = received(ctx, scenario)
        if filt == "confident_learning":
            def fit_predict(xf, yf, xo):
                return T.predict_proba(ctx.backend, _fit(ctx, xf, yf, "cv"), xo)
            probs = sanitize.cross_val_probs(fit_predict, x, y, cfg.cl_folds, ctx.rng("m0007", "folds", scenario))
            return sanitize.confident_learning(probs, y)
        feats = sanitize.hidden_features(ctx.backend, as_received(ctx, scenario), x)
        if filt == "spectral_signatures":
            return sanitize.spectral_signatures(feats, y, cfg.spectral_eps)
        if filt == "activation_clustering":
            return sanitize.activation_clustering(feats, y, ctx.seed, max_size=cfg.ac_max_size,
                                                  min_silhouette=cfg.ac_silhouette)
        raise ValueError(f"unknown filter {filt!r}; choose one of {sanitize.FILTERS}")

    return ctx.cached(f"m0007:removed:{scenario}:{filt}", compute)


def filtered(ctx, scenario: str, filt: str):
    def compute():
        x, y, _ = received(ctx, scenario)
        keep = ~removed(ctx, scenario, filt)
        return _fit(ctx, x[keep], y[keep])
    return ctx.cached(f"m0007:model:{scenario}:{filt}", compute)


# ---- measures -----------------------------------------------------------------------

def trigger_success(ctx, net, kind: str) -> S.Points:
    """Share of the non-target test points that the trigger sends to the target class."""
    keep = ctx.y_test != ctx.cfg.target_class
    xt = trigger_fn(ctx, "blend" if kind == "adaptive" else kind)(ctx.x_test[keep])
    hits = T.predict(ctx.backend, net, xt) == ctx.cfg.target_class
    return S.rate(hits, ctx.test_ids[keep])


def accuracy(ctx, net) -> S.Points:
    return measure.correct(Model(ctx.backend, net), ctx.x_test, ctx.y_test, ctx.test_ids)


def _quality_points(ctx, scenario: str, filt: str) -> dict:
    """Precision (attacker's samples among those removed; 1 when nothing is removed: no
    clean sample was lost), recall (removed among the attacker's samples), and the share
    of clean samples removed, as per-sample rates."""
    _, _, bad = received(ctx, scenario)
    rem = removed(ctx, scenario, filt)
    ids = np.arange(len(bad))
    precision = S.rate(bad[rem], ids[rem]) if rem.any() else S.values([1.0])
    return {"precision": precision, "recall": S.rate(rem[bad], ids[bad]),
            "clean_removed": S.rate(rem[~bad], ids[~bad])}


def _poison_tm(adaptive: bool = False):
    return ThreatModel("none", "none", 0.0, 0, adaptive)


def _filter_params(ctx, filt: str) -> dict:
    cfg = ctx.cfg
    p = {"filter": sanitize.WORDS[filt]}
    if filt == "spectral_signatures":
        p["removes_per_label"] = f"1.5 x {cfg.spectral_eps:g} of each label (defender's bound on its poisoned share)"
    elif filt == "activation_clustering":
        p["flags"] = (f"smaller of 2 clusters if its share <= {cfg.ac_max_size:g} and silhouette >= "
                      f"{cfg.ac_silhouette:g}")
    else:
        p["folds"] = cfg.cl_folds
    return p


def _backdoor_rows(ctx, scenario: str, kind: str, name: str, params: dict, *, adaptive=False,
                   headline=True, series=None, beside: str | None = None, caveat: str = "") -> list:
    """One trigger-success row per filter for `scenario`, precision and recall beside it,
    and one clean-accuracy row for the headline filter."""
    base = as_received(ctx, scenario)
    rows = []
    for filt in sanitize.FILTERS:
        net = filtered(ctx, scenario, filt)
        extra = {**_quality_points(ctx, scenario, filt),
                 "clean_accuracy_baseline": accuracy(ctx, base), "clean_accuracy_defended": accuracy(ctx, net)}
        if beside:
            extra["nonadaptive_trigger_success_baseline"] = trigger_success(ctx, as_received(ctx, beside), "blend")
            extra["nonadaptive_trigger_success_defended"] = trigger_success(ctx, filtered(ctx, beside, filt), "blend")
        rows.append(row(f"{name}_{filt}", "attack_success_rate", trigger_success(ctx, base, kind),
                        trigger_success(ctx, net, kind), _poison_tm(adaptive),
                        params={**params, **_filter_params(ctx, filt), "target_class": ctx.cfg.target_class,
                                "measures": "trigger success: share of non-target test inputs the trigger "
                                            "sends to the target class"},
                        extra=extra, series=series if filt == HEADLINE_FILTER else None,
                        caveat=caveat, headline=headline and filt == HEADLINE_FILTER))
    rows.append(row(f"{name}_clean_accuracy", "accuracy", accuracy(ctx, base),
                    accuracy(ctx, filtered(ctx, scenario, HEADLINE_FILTER)), _poison_tm(adaptive),
                    params={**params, "filter": sanitize.WORDS[HEADLINE_FILTER],
                            "measures": "clean test accuracy of the model trained after filtering"}))
    return rows


def _rate_series(ctx, kind: str) -> dict:
    rates = ctx.cfg.poison_rates
    return {"x_label": "poisoned share of the training set", "x": list(rates),
            "baseline": [trigger_success(ctx, as_received(ctx, f"{kind}:{r:g}"), kind) for r in rates],
            "defended": [trigger_success(ctx, filtered(ctx, f"{kind}:{r:g}", HEADLINE_FILTER), kind) for r in rates]}


def _poison_params(ctx, kind: str, frac: float) -> dict:
    trig = {"patch": "2x2 bright corner square plus a dark pixel",
            "blend": f"fixed noise image blended at alpha {ctx.cfg.blend_alpha:g} over the whole input",
            "adaptive": f"noise image blended at alpha {ctx.cfg.blend_alpha:g}, with as many cover samples "
                        "carrying half of it and their true labels (after Qi et al., 2023)"}[kind]
    return {"trigger": trig, "poisoned_share": frac, "labels": "dirty: poisoned inputs labelled as the target"}


# ---- experiments --------------------------------------------------------------------

def _patch_and_blend(ctx, frac: float, series: bool, caveat: str = "") -> list:
    rows = []
    for kind in ("patch", "blend"):
        rows += _backdoor_rows(ctx, f"{kind}:{frac:g}", kind, f"{kind}_trigger_poison_{frac:g}",
                               _poison_params(ctx, kind, frac), headline=kind == "patch",
                               series=_rate_series(ctx, kind) if series else None, caveat=caveat)
    return rows


def poison_training_data(ctx):
    """AML.T0020: a patch and a blended trigger at the configured poison share, then the adaptive one."""
    return _patch_and_blend(ctx, ctx.cfg.poison_frac, series=True) + adaptive_trigger(ctx)


def poison_model(ctx):
    """AML.T0018.000: the attacker controls a larger share of the data, to implant a model backdoor."""
    return _patch_and_blend(ctx, ctx.cfg.strong_frac, series=False,
                            caveat="At this share the poison is about half of the target label.")


def adaptive_trigger(ctx):
    """Part of AML.T0020: an adaptive trigger built to look like clean data in feature space,
    with the non-adaptive blended trigger's numbers beside it."""
    f = ctx.cfg.poison_frac
    return _backdoor_rows(ctx, f"adaptive:{f:g}", "adaptive", f"adaptive_blend_poison_{f:g}",
                          _poison_params(ctx, "adaptive", f), adaptive=True, beside=f"blend:{f:g}", headline=False,
                          caveat="Cover samples are the attacker's too but carry true labels; precision and "
                                 "recall count only the target-labelled poison.")


def third_party_data(ctx):
    """AML.T0010.002: the poison arrives inside a third-party data set the victim merges with its own."""
    p = ctx.cfg.third_party_poison
    return _backdoor_rows(ctx, "merged:patch", "patch", "merged_third_party_patch",
                          {"trigger": "2x2 bright corner square plus a dark pixel",
                           "third_party_share_poisoned": p,
                           "merged": "victim's own data plus an equal-sized third-party set"},
                          caveat="The filters see the merged set only; they are not told which part is third-party.")


def erode_integrity(ctx):
    """AML.T0059: labels changed in place, at random or towards a paired class."""
    cfg = ctx.cfg
    rows = []
    for how in ("random", "pair"):
        scenario = f"labels:{how}"
        _, y, bad = received(ctx, scenario)
        base = as_received(ctx, scenario)
        ids = np.arange(len(y))
        words = {"random": "a uniformly random other class", "pair": "the next class (c -> c+1)"}[how]
        params = {"corrupted_share": cfg.corruption, "changed_to": words}
        for filt in ("confident_learning", "activation_clustering", "spectral_signatures"):
            rem = removed(ctx, scenario, filt)
            net = filtered(ctx, scenario, filt)
            head = how == "random" and filt == "confident_learning"
            rows.append(row(f"{how}_label_corruption_{filt}", "accuracy", accuracy(ctx, base), accuracy(ctx, net),
                            _poison_tm(), params={**params, **_filter_params(ctx, filt)},
                            extra=_quality_points(ctx, scenario, filt), headline=head))
            rows.append(row(f"{how}_label_corruption_{filt}_residual", "residual_corruption",
                            S.rate(bad, ids), S.rate(bad[~rem], ids[~rem]), _poison_tm(),
                            params={**params, **_filter_params(ctx, filt),
                                    "measures": "share of wrong labels in the training set: as received "
                                                "(baseline) and after filtering (defended)"}))
    return rows


def clean_accuracy(ctx) -> dict:
    s = f"patch:{ctx.cfg.poison_frac:g}"
    return {"baseline": accuracy(ctx, as_received(ctx, s)), "defended": accuracy(ctx, filtered(ctx, s, HEADLINE_FILTER))}


EXPERIMENTS = {
    "AML.T0010.002": third_party_data,
    "AML.T0018.000": poison_model,
    "AML.T0020": poison_training_data,
    "AML.T0059": erode_integrity,
}
NOT_MEASURED: dict[str, str] = {}  # every technique ATLAS links to this mitigation has an experiment
