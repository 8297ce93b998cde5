"""AML.M0006 Use Ensemble Methods: one measured experiment for each technique it mitigates.

Each function takes one seed's `SeedContext` and returns result rows for that seed:
`{"attack", "metric", "higher_is_better", "baseline", "defended", "extra", "info",
"params", "series"}`. `baseline` is the single model, `defended` the soft-vote ensemble;
`extra` holds other per-seed numbers worth an interval (the majority vote, a compromised
member on its own), `info` per-seed facts that are not numbers to average (which attack was
the worst), `series` a curve for the plot (transfer over epsilon). The runner averages
rows over seeds and attaches 95% intervals.
"""

from __future__ import annotations

import math

from atlaskb.defenses.attacks import simba as simba_mod
from atlaskb.defenses.experiments.context import SeedContext

MITIGATION = "AML.M0006"
DESCRIPTION = (
    "Diverse ensemble (ReLU and tanh MLPs of different widths and depths plus a small conv "
    "net, each with its own seed and bootstrap training sample, or trained jointly for "
    "diversity with --diversity; soft and majority vote) "
    "compared with one model trained for the same total budget, against one attack per "
    "technique ATLAS says the mitigation addresses."
)


def _row(attack, metric, base, defended, *, hib=None, extra=None, info=None, params=None, series=None):
    if hib is None:
        hib = metric in ("robust_accuracy", "accuracy", "queries")
    return {"attack": attack, "metric": metric, "higher_is_better": hib, "baseline": base,
            "defended": defended, "extra": extra or {}, "info": info or {}, "params": params or {},
            "series": series}


def _evasion_rows(attack, scores_base, scores_def, params):
    """A robust-accuracy row for an evasion attack, majority vote as an extra."""
    return _row(attack, "robust_accuracy", scores_base["robust_accuracy"],
                scores_def["soft"]["robust_accuracy"],
                extra={"defended_majority_vote": scores_def["majority"]["robust_accuracy"]},
                params=params)


def _member_training(cfg) -> str:
    if cfg.diversity > 0:
        return (f"joint, negative correlation (diversity {cfg.diversity:g}), shared minibatches "
                "of the whole training split")
    return "independent, each on its own bootstrap sample" if cfg.bootstrap else "independent"


def white_box(ctx: SeedContext):
    cfg = ctx.cfg
    p = {"norm": "linf", "eps": cfg.eps, "steps": cfg.pgd_steps, "random_start": True,
         "baseline_attack": "PGD on the single model (white-box)"}
    return [
        _evasion_rows("pgd_linf_nonadaptive", ctx.pgd_single, ctx.pgd_nonadaptive,
                      {**p, "defended_attack": "PGD crafted on member 0 only, sent to the ensemble"}),
        _evasion_rows("pgd_linf_adaptive", ctx.pgd_single, ctx.pgd_adaptive,
                      {**p, "defended_attack": "PGD end to end through all members; per "
                                               "input the worse of two losses (soft-vote "
                                               "cross-entropy, sum of member cross-entropies)"}),
    ]


def black_box(ctx: SeedContext):
    cfg = ctx.cfg
    rows = []
    for name, res, params in (
        ("simba_score_based", ctx.simba, {"norm": "linf", "eps": cfg.simba_eps,
                                          "query_budget": cfg.query_budget, "answers": "probabilities",
                                          "queries_per_pass_max": 2 * ctx.ds.n_features,
                                          "step_schedule": "pass k steps eps/2^min(k,"
                                                           f"{simba_mod.HALVINGS}); "
                                                           "passes repeat until success or the "
                                                           "budget is spent",
                                          "note": "every try is clipped to the eps L-inf ball and "
                                                  "[0, 1]; tries that would not move the input "
                                                  "are not sent and cost no query"}),
        ("boundary_label_only", ctx.boundary, {"norm": "l2", "l2_max": cfg.boundary_l2,
                                               "query_budget": cfg.query_budget, "answers": "top label"}),
    ):
        info = {"attacked_points": {"baseline": res["baseline"]["n_attacked"],
                                    "defended": res["defended"]["n_attacked"]},
                "budget_exhausted": {"baseline": res["baseline"]["budget_exhausted"],
                                     "defended": res["defended"]["budget_exhausted"]}}
        extra, series = {}, None
        if "success_by_budget" in res["baseline"]:
            ladder = ctx.budget_ladder
            series = {"x_label": "query budget per input", "x": ladder,
                      "baseline": [res["baseline"]["success_by_budget"][b] for b in ladder],
                      "defended": [res["defended"]["success_by_budget"][b] for b in ladder]}
            for side in ("baseline", "defended"):
                extra.update({f"{side}_success_within_{b}_queries": res[side]["success_by_budget"][b]
                              for b in ladder})
        rows.append(_row(name, "attack_success_rate", res["baseline"]["attack_success_rate"],
                         res["defended"]["attack_success_rate"], info=info, params=params,
                         extra=extra, series=series))
        rows.append(_row(name, "queries", res["baseline"]["queries"], res["defended"]["queries"],
                         info=info, params={**params, "queries": "mean per attacked point, "
                                            "capped at the budget (more is better for the defender)"}))
    return rows


def transfer(ctx: SeedContext):
    cfg = ctx.cfg
    res = ctx.transfer
    eps = sorted(res)
    series = {"x_label": "epsilon (L-inf)", "x": eps,
              "baseline": [res[e]["baseline"]["robust_accuracy"] for e in eps],
              "defended": [res[e]["soft"]["robust_accuracy"] for e in eps]}
    extra = {f"defended_at_eps_{e:g}": res[e]["soft"]["robust_accuracy"] for e in eps}
    extra.update({f"baseline_at_eps_{e:g}": res[e]["baseline"]["robust_accuracy"] for e in eps})
    extra["defended_majority_vote"] = res[cfg.eps]["majority"]["robust_accuracy"]
    return [_row("transfer_pgd_from_surrogate", "robust_accuracy", res[cfg.eps]["baseline"]["robust_accuracy"],
                 res[cfg.eps]["soft"]["robust_accuracy"], extra=extra, series=series,
                 params={"eps": cfg.eps, "eps_range": eps, "steps": cfg.pgd_steps,
                         "surrogate": "mlp-relu (100), trained on the attacker's disjoint split",
                         "member_training": _member_training(cfg)})]


def manual_modification(ctx: SeedContext):
    rows = []
    for name, res in ctx.manual.items():
        rows.append(_evasion_rows(f"manual_{name}", res["baseline"],
                                  {"soft": res["soft"], "majority": res["majority"]},
                                  {"model_access": "none"}))
    return rows


def backdoor_trigger(ctx: SeedContext):
    res, cfg = ctx.poisoning, ctx.cfg
    extra = {"defended_majority_vote": res["majority"],
             "poisoned_member_alone": sum(res["member_alone"]) / len(res["member_alone"]),
             "clean_accuracy_baseline": res["clean"]["baseline"],
             "clean_accuracy_defended": res["clean"]["soft"]}
    return [_row("poisoned_training_data", "attack_success_rate", res["baseline"], res["soft"],
                 extra=extra, params={"poisoned_samples": res["n_poison"],
                                      "poisoned_members": res["poisoned_members"],
                                      "members": ctx.n_members, "target_class": cfg.target_class,
                                      "trigger": "2x2 bright corner square"})]


def _supply_chain(ctx, res, attack, how):
    cfg = ctx.cfg
    params = {"compromised_members": 1, "members": ctx.n_members, "target_class": cfg.target_class,
              "how": how}
    return [
        _row(attack, "attack_success_rate", res["baseline"], res["soft"],
             extra={"defended_majority_vote": res["majority"],
                    "compromised_member_alone": res["member_alone"]}, params=params),
        _row(attack + "_clean", "accuracy", res["clean"]["baseline"], res["clean"]["soft"],
             extra={"defended_majority_vote": res["clean"]["majority"],
                    "compromised_member_alone": res["clean"]["member_alone"]},
             params={**params, "measures": "clean test accuracy of the compromised system"}),
    ]


def ai_software(ctx: SeedContext):
    return _supply_chain(ctx, ctx.compromised_tool, "trojaned_training_tool",
                         f"training tool poisons {ctx.cfg.tool_poison_rate:.0%} of each batch")


def pretrained_model(ctx: SeedContext):
    return _supply_chain(ctx, ctx.compromised_model, "backdoored_pretrained_weights",
                         "pre-trained weights trained by the attacker with the trigger built in")


def family_discovery(ctx: SeedContext):
    res, cfg = ctx.fingerprint, ctx.cfg
    return [_row("fingerprint_from_probe_answers", "identification_accuracy", res["baseline"],
                 res["soft"], hib=False,
                 params={"families": res["families"], "shadow_models_per_family": cfg.shadow_per_family,
                         "probes": cfg.probes, "targets": res["n_targets"],
                         "defended_target": "ensemble of 3 members of the family + 1 of each other",
                         "chance": 1.0 / len(res["families"])})]


def _suite(ctx: SeedContext, include_backdoor: bool):
    """Attack success rate of every attack in the suite, per system, for this seed."""
    base, dfd = {}, {}
    base["pgd_linf_white_box"] = ctx.pgd_single["attack_success_rate"]
    dfd["pgd_linf_nonadaptive"] = ctx.pgd_nonadaptive["soft"]["attack_success_rate"]
    dfd["pgd_linf_adaptive"] = ctx.pgd_adaptive["soft"]["attack_success_rate"]
    for name, res in (("simba_score_based", ctx.simba), ("boundary_label_only", ctx.boundary)):
        base[name] = res["baseline"]["attack_success_rate"]
        dfd[name] = res["defended"]["attack_success_rate"]
    t = ctx.transfer[ctx.cfg.eps]
    base["transfer_pgd_from_surrogate"] = t["baseline"]["attack_success_rate"]
    dfd["transfer_pgd_from_surrogate"] = t["soft"]["attack_success_rate"]
    for name, res in ctx.manual.items():
        base[f"manual_{name}"] = res["baseline"]["attack_success_rate"]
        dfd[f"manual_{name}"] = res["soft"]["attack_success_rate"]
    if include_backdoor:
        base["poisoned_training_data"] = ctx.poisoning["baseline"]
        dfd["poisoned_training_data"] = ctx.poisoning["soft"]
    return base, dfd


def _worst(scores: dict) -> tuple[str, float]:
    """The attack with the highest success rate (ties: the first in suite order)."""
    best = max(scores, key=lambda k: (-math.inf if math.isnan(scores[k]) else scores[k]))
    return best, scores[best]


def craft_adversarial_data(ctx: SeedContext):
    base, dfd = _suite(ctx, include_backdoor=True)
    (bn, bv), (dn, dv) = _worst(base), _worst(dfd)
    return [_row("worst_case_over_subtechniques", "attack_success_rate", bv, dv,
                 info={"worst_attack": {"baseline": bn, "defended": dn}},
                 params={"over": sorted(set(base) | set(dfd)),
                         "rule": "per seed, the highest attack success rate among the "
                                 "AML.T0043.000-.004 attacks, for each system separately"})]


def evade(ctx: SeedContext):
    base, dfd = _suite(ctx, include_backdoor=False)
    (bn, bv), (dn, dv) = _worst(base), _worst(dfd)
    return [_row("strongest_evasion_attack", "attack_success_rate", bv, dv,
                 info={"strongest_attack": {"baseline": bn, "defended": dn}},
                 params={"evasion_rate": "share of correctly classified test inputs the attack "
                                         "makes misclassified",
                         "over": sorted(set(base) | set(dfd)),
                         "budgets": {"pgd_and_transfer_linf": ctx.cfg.eps, "simba_linf": ctx.cfg.simba_eps,
                                     "boundary_l2": ctx.cfg.boundary_l2,
                                     "manual": "none (no model access)"}})]


def erode(ctx: SeedContext):
    """Accuracy of the deployed system when every test input is attacked with the
    suite's strongest evasion attack: clean accuracy x (1 - evasion rate), since the
    untargeted attacks leave already-wrong inputs wrong."""
    base, dfd = _suite(ctx, include_backdoor=False)
    (bn, bv), (dn, dv) = _worst(base), _worst(dfd)
    clean = ctx.clean_accuracy()
    b_acc, d_acc = clean["baseline"] * (1 - bv), clean["defended"] * (1 - dv)
    return [_row("strongest_evasion_attack_on_all_inputs", "accuracy", b_acc, d_acc,
                 extra={"erosion_baseline": clean["baseline"] - b_acc,
                        "erosion_defended": clean["defended"] - d_acc},
                 info={"strongest_attack": {"baseline": bn, "defended": dn}},
                 params={"erosion": "clean accuracy minus accuracy under attack (in extra)"})]


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
