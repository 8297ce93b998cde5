"""AML.M0010 Input Restoration: one measured experiment for each technique it mitigates.

The defended systems put an input transformation in front of a classifier that was trained
on transformed inputs (same architecture and epochs as the baseline): a 2x2 median filter
(the primary system, the `defended` arm of every row), bit-depth reduction to 2 bits, and a
random pad-and-crop shift of up to one pixel. The baseline is the same architecture trained
normally, with no transformation. Every white-box row comes twice: APGD crafted on the
undefended model and sent through the transformation (what papers often report), and APGD
end to end through the transformation by BPDA (identity backward pass) and, for the random
shift, the expectation over its randomness (EOT), after Athalye, Carlini and Wagner (2018).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from atlaskb.defenses import transforms
from atlaskb.defenses.attacks import backdoor
from atlaskb.defenses.mitigations import _evasion as E
from atlaskb.defenses.rows import row
from atlaskb.defenses.systems import InputTransform, Model

MITIGATION = "AML.M0010"
DESCRIPTION = (
    "Input restoration in front of a classifier trained on restored inputs: a 2x2 median filter "
    "(primary), bit-depth reduction to 2 bits, and a random one-pixel pad-and-crop shift; compared with "
    "the same architecture trained normally for the same epochs, against non-adaptive attacks and "
    "adaptive ones through the transformation (BPDA, and EOT for the random one)."
)


@dataclass(frozen=True)
class Config(E.EvasionConfig):
    median_size: int = 2         # the median filter's window, in pixels
    bits: int = 2                # bits per pixel the bit-depth reduction keeps
    shift_pixels: int = 1        # the random shift's largest offset, in pixels
    eot_samples: int = 8         # draws of the random shift an adaptive (EOT) gradient averages


FULL = Config()
QUICK = replace(FULL, **E.QUICK_BUDGETS, eot_samples=4)



# ---- systems ------------------------------------------------------------------------

def _transforms(ctx):
    cfg = ctx.cfg
    return {"median_filter": (transforms.median_filter(ctx.image, cfg.median_size), False),
            "bit_depth": (transforms.bit_depth(cfg.bits), False),
            "random_shift": (transforms.random_shift(ctx.image, cfg.shift_pixels), True)}


def _pipeline(ctx, name, fn, randomised, x, y, tag):
    net = E.train_net(ctx, f"m0010:{name}:{tag}", x, y, batch_hook=transforms.as_batch_hook(fn))
    return InputTransform(Model(ctx.backend, net), fn, randomised=randomised, eot_samples=ctx.cfg.eot_samples,
                          seed=ctx.seed, name=name)


def defended(ctx) -> dict:
    """name -> defended system; the first is the primary one."""
    return ctx.cached("m0010:defended", lambda: {
        name: _pipeline(ctx, name, fn, rnd, ctx.x_train, ctx.y_train, "clean")
        for name, (fn, rnd) in _transforms(ctx).items()})


def clean_accuracy(ctx) -> dict:
    from atlaskb.defenses import measure

    primary = next(iter(defended(ctx).values()))
    return {"baseline": measure.correct(E.baseline(ctx), ctx.x_test, ctx.y_test, ctx.test_ids),
            "defended": measure.correct(primary, ctx.x_test, ctx.y_test, ctx.test_ids)}


# ---- experiments --------------------------------------------------------------------

NOTES = {"median_filter": "BPDA with the identity as the filter's backward pass.",
         "bit_depth": "BPDA with the identity as the quantiser's backward pass.",
         "random_shift": "BPDA and EOT: gradients averaged over draws of the random shift."}


def white_box(ctx):
    return E.white_box_rows(ctx, defended(ctx), notes=NOTES)


def surviving_trigger(x, image):
    """A 3x3 full-intensity corner square: values already on every quantisation level, a
    solid block a 2x2 median keeps, still present after a one-pixel shift. What an attacker
    who knows the preprocessing would stamp instead of the 2x2 square."""
    c, h, w = image
    imgs = x.reshape(len(x), c, h, w).copy()
    imgs[:, :, h - min(3, h):, w - min(3, w):] = 1.0
    return imgs.reshape(len(x), c * h * w)


def backdoor_trigger(ctx):
    rows = []
    for trig, tname, adaptive in ((backdoor.add_trigger, "corner", False), (surviving_trigger, "surviving", True)):
        x, y, n = E.poison(ctx, trig, tname)

        def compute(x=x, y=y, tname=tname):
            base = Model(ctx.backend, E.train_net(ctx, f"m0010:poisoned-baseline:{tname}", x, y))
            return base, {name: _pipeline(ctx, name, fn, rnd, x, y, f"poisoned:{tname}")
                          for name, (fn, rnd) in _transforms(ctx).items()}

        base, systems = ctx.cached(f"m0010:poisoned:{tname}", compute)
        primary = next(iter(systems))
        tm = E.NO_BUDGET.with_(adaptive=adaptive)
        rows.append(row("poisoned_training_data" + ("_filter_surviving_trigger" if adaptive else ""),
                        "attack_success_rate", E.trigger_success(ctx, base, trig),
                        E.trigger_success(ctx, systems[primary], trig), tm,
                        params={"poisoned_samples": n, "target_class": ctx.cfg.target_class, "defended": primary,
                                "trigger": ("3x3 full-intensity corner square, chosen to survive the filters"
                                            if adaptive else "2x2 bright corner square")},
                        extra={f"defended_{k}": E.trigger_success(ctx, s, trig) for k, s in systems.items()
                               if k != primary},
                        caveat=("The defender's classifier trains on transformed poisoned data, as it would "
                                "in deployment."),
                        headline=not adaptive))
    return rows


EXPERIMENTS = E.experiments(defended, white_box=white_box, backdoor=backdoor_trigger)
NOT_MEASURED: dict[str, str] = {}  # every technique ATLAS links to this mitigation has an experiment
