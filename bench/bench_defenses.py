"""Speed of the defenses' engine, side by side with IBM's Adversarial Robustness Toolbox.

(a) PGD-20 (L-inf, eps 0.2 on inputs in [0, 1], step eps/8, no random start, true labels)
    end to end through a 5-member ensemble of dense MLPs on digits: atlaskb's torch backend
    vs ART's ProjectedGradientDescent on a PyTorchClassifier wrapping an nn.Module that
    averages the members' softmax (goal: ours >= 1.5x ART's throughput). Both attack the
    same weights with the same loss (cross-entropy of the mean softmax) and the same batch
    size; the bench checks that they produce the same adversarial examples.
(b) The same attack on atlaskb's numpy backend vs its torch backend on the CPU (goal: numpy
    takes at most 2x torch's time).
(c) A large synthetic workload (training plus PGD on wide MLPs) on the CPU vs a CUDA GPU
    with the torch backend; recorded as "no CUDA device" when there is none.

Thread counts are set explicitly (torch intra-op threads and numpy's BLAS pool) and
reported. Timings are medians over repeated runs after a warm-up.

Run: python bench/bench_defenses.py [--threads N] [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from atlaskb.engine import get_backend, mlp  # noqa: E402
from atlaskb.engine import train as T  # noqa: E402

EPS = 0.2
STEPS = 20
STEP_SIZE = EPS / 8
# Five dense members of different shapes (widths, depths, activations): a diverse ensemble.
MEMBERS = [([64, 128, 10], "relu"), ([64, 256, 10], "relu"), ([64, 128, 128, 10], "relu"),
           ([64, 256, 128, 10], "tanh"), ([64, 64, 64, 10], "relu")]


def interleaved(fns: dict, repeat: int) -> dict:
    """Run each named thunk once to warm up, then `repeat` rounds in which every thunk runs
    once in turn (so a shared machine's load hits all tools alike). Returns, per name, the
    median wall seconds, the median process CPU seconds (all threads) and the last result."""
    last = {name: fn() for name, fn in fns.items()}
    wall: dict = {name: [] for name in fns}
    cpu: dict = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            c0, w0 = time.process_time(), time.perf_counter()
            last[name] = fn()
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
    return {name: {"wall_s": statistics.median(wall[name]), "cpu_s": statistics.median(cpu[name]),
                   "result": last[name]} for name in fns}


def timed(fn, repeat: int) -> tuple[float, object]:
    """Median wall seconds of `fn` over `repeat` runs after a warm-up, and its last result."""
    r = interleaved({"f": fn}, repeat)["f"]
    return r["wall_s"], r["result"]


def pgd(backend, bounds, x: np.ndarray, y: np.ndarray, batch: int, eps: float = EPS,
        steps: int = STEPS, step: float = STEP_SIZE) -> np.ndarray:
    """L-inf PGD from the clean input through all `bounds` (mean-softmax cross-entropy)."""
    out = []
    for i in range(0, len(x), batch):
        x0 = backend.asarray(x[i:i + batch])
        yb = backend.asarray(y[i:i + batch].astype(np.int64))
        lo, hi = backend.clip(x0 - eps, 0.0, 1.0), backend.clip(x0 + eps, 0.0, 1.0)
        xa = x0
        for _ in range(steps):
            g = T.input_gradient(backend, bounds, xa, yb, loss="ce", combine="mean-prob")
            xa = backend.minimum(backend.maximum(xa + step * backend.sign(g), lo), hi)
        out.append(backend.to_numpy(xa))
    backend.synchronize()
    return np.concatenate(out)


def digits_split(seed: int = 0):
    """Digits scaled to [0, 1], a fixed stratified 70/30 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    return train_test_split(x, d.target.astype(np.int64), test_size=0.3, random_state=seed,
                            stratify=d.target)


def train_members(x, y, seed: int = 0):
    """The five members, trained with the engine (numpy backend) for a fixed budget."""
    nets = [mlp(sizes[0], sizes[1:-1], sizes[-1], act, np.random.default_rng(seed + i),
                f"mlp-{act}-" + "x".join(map(str, sizes[1:-1])))  # the family names the shape
            for i, (sizes, act) in enumerate(MEMBERS)]
    return T.train(get_backend("numpy"), nets, x, y, epochs=30, batch_size=64, lr=2e-3, seed=seed)


def art_module(nets):
    """A torch nn.Module holding the same weights that returns log(mean softmax) of the
    members, so ART's CrossEntropyLoss on it is exactly -log p_bar_y (our loss)."""
    import torch
    from torch import nn

    class MeanSoftmax(nn.Module):
        def __init__(self, members):
            super().__init__()
            self.members = nn.ModuleList(members)

        def forward(self, x):
            lp = torch.stack([torch.log_softmax(m(x), dim=1) for m in self.members], 0)
            return torch.logsumexp(lp, dim=0) - math.log(len(self.members))

    members = []
    for net in nets:
        layers = []
        for layer, p in zip(net.layers, net.params):
            kind = type(layer).__name__
            if kind == "Dense":
                lin = nn.Linear(layer.n_in, layer.n_out)
                with torch.no_grad():
                    lin.weight.copy_(torch.from_numpy(p["W"].T.copy()))
                    lin.bias.copy_(torch.from_numpy(p["b"].copy()))
                layers.append(lin)
            elif kind == "Act":
                layers.append(nn.ReLU() if layer.kind == "relu" else nn.Tanh())
            else:
                raise ValueError(f"bench only maps dense networks, not {kind}")
        members.append(nn.Sequential(*layers))
    return MeanSoftmax(members).eval()


def art_pgd(nets, batch: int, freeze: bool = False):
    """ART's PGD on a PyTorchClassifier of the mean-softmax module; returns generate(x, y)."""
    import torch
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    module = art_module(nets)
    if freeze:
        for p in module.parameters():
            p.requires_grad_(False)
    clf = PyTorchClassifier(model=module, loss=torch.nn.CrossEntropyLoss(), input_shape=(64,),
                            nb_classes=10, clip_values=(0.0, 1.0), device_type="cpu")
    attack = ProjectedGradientDescent(clf, norm=np.inf, eps=EPS, eps_step=STEP_SIZE,
                                      max_iter=STEPS, num_random_init=0, batch_size=batch,
                                      verbose=False)
    return lambda x, y: attack.generate(x=x, y=y)


def set_threads(n: int) -> dict:
    """Pin torch's intra-op pool and numpy's BLAS pool to `n` threads; report what holds."""
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(n)
    info = {"requested": n, "cpus": os.cpu_count(),
            "numpy_blas": [{"api": p.get("internal_api"), "threads": p.get("num_threads")}
                           for p in threadpool_info()]}
    try:
        import torch

        torch.set_num_threads(n)
        info["torch_intra_op"] = torch.get_num_threads()
    except ImportError:
        info["torch_intra_op"] = None
    return info


def synthetic(n: int, d: int, k: int, seed: int):
    """Class prototypes in [0, 1] plus noise, clipped: image-like features for scale tests."""
    rng = np.random.default_rng(seed)
    protos = rng.uniform(0, 1, size=(k, d)).astype(np.float32)
    y = rng.integers(0, k, size=n)
    x = np.clip(protos[y] + rng.normal(0, 0.25, size=(n, d)).astype(np.float32), 0, 1)
    return x.astype(np.float32), y.astype(np.int64)


def gpu_workload(quick: bool) -> dict:
    """Torch backend, CPU vs CUDA: train 5 wide MLPs for one epoch on a large synthetic set,
    then PGD-20 through the ensemble. Returns timings or why it was not run."""
    try:
        import torch
    except ImportError:
        return {"status": "torch not installed"}
    if not torch.cuda.is_available():
        return {"status": "no CUDA device"}
    set_threads(os.cpu_count() or 1)
    n_train, n_attack, d = (20000, 2000, 784) if quick else (200000, 20000, 784)
    x, y = synthetic(n_train, d, 10, seed=1)
    nets = [mlp(d, (1024, 1024), 10, "relu", np.random.default_rng(i)) for i in range(5)]
    out = {"status": "ran", "device_name": torch.cuda.get_device_name(0), "cpu_threads": torch.get_num_threads(),
           "train_samples": n_train,
           "attack_samples": n_attack, "features": d, "members": "5 x [784, 1024, 1024, 10]"}
    for device in ("cpu", "cuda"):
        be = get_backend("torch", device=device)

        def work():
            trained = T.train(be, nets, x, y, epochs=1, batch_size=512, lr=1e-3, seed=0)
            bounds = T.as_bounds(be, trained)
            pgd(be, bounds, x[:n_attack], y[:n_attack], batch=4096)

        seconds, _ = timed(work, repeat=1)
        out[f"{device}_s"] = round(seconds, 3)
    out["speedup"] = round(out["cpu_s"] / out["cuda_s"], 2)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="bench_defenses", description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for (a) and (b) (default 1: per-core figures that a shared "
                         "machine disturbs least); (c) always uses every core")
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--batch", type=int, default=128, help="attack batch size (both tools)")
    args, _ = ap.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    repeat = 3 if args.quick else 7

    figures: dict = {"threads": set_threads(args.threads), "python": platform.python_version(),
                     "attack": {"norm": "Linf", "eps": EPS, "step": STEP_SIZE, "iterations": STEPS,
                                "random_init": False, "loss": "CE of mean softmax",
                                "batch_size": args.batch}}
    x_tr, x_te, y_tr, y_te = digits_split()
    nets = train_members(x_tr, y_tr)
    npb = get_backend("numpy")
    figures["models"] = {
        "members": [f"{n.family}" for n in nets],
        "clean_accuracy_members": [round(T.accuracy(npb, n, x_te, y_te), 4) for n in nets],
        "clean_accuracy_ensemble": round(T.accuracy(npb, nets, x_te, y_te), 4),
        "attack_samples": int(len(x_te)),
    }
    n = len(x_te)

    # (a) and (b): every tool on the same weights, data, attack and batch size, interleaved.
    fns = {}
    for name in ("torch", "numpy"):
        try:
            be = get_backend(name, device="cpu")
        except Exception as e:  # noqa: BLE001 - torch missing is reported, not fatal
            figures[f"{name}_error"] = str(e)
            continue
        bounds = T.as_bounds(be, nets)
        fns[name] = (lambda be=be, bounds=bounds: pgd(be, bounds, x_te, y_te, args.batch))
    try:
        import art

        figures["art_version"] = art.__version__
        fns["art"] = art_pgd(nets, args.batch, freeze=False)
        fns["art_frozen_params"] = art_pgd(nets, args.batch, freeze=True)
    except ImportError:
        figures["art"] = "not installed: pip install adversarial-robustness-toolbox (the bench extra)"
    runs = interleaved({k: (lambda f=f: f(x_te, y_te)) if k.startswith("art") else f
                        for k, f in fns.items()}, repeat)
    for name, r in runs.items():
        figures[f"pgd20_{name}_wall_s"] = round(r["wall_s"], 4)
        figures[f"pgd20_{name}_process_cpu_s"] = round(r["cpu_s"], 4)
        figures[f"pgd20_{name}_samples_per_s"] = round(n / r["wall_s"], 1)
        figures[f"robust_accuracy_{name}"] = round(T.accuracy(npb, nets, r["result"], y_te), 4)
    adv = {name: r["result"] for name, r in runs.items()}
    if "numpy" in runs and "torch" in runs:
        figures["numpy_over_torch_time"] = round(
            figures["pgd20_numpy_wall_s"] / figures["pgd20_torch_wall_s"], 3)
        figures["numpy_within_2x_of_torch"] = figures["numpy_over_torch_time"] <= 2.0
        figures["numpy_torch_adv_max_abs_diff"] = float(np.abs(adv["numpy"] - adv["torch"]).max())
    if "art" in runs and "torch" in runs:
        diff = np.abs(adv["art"] - adv["torch"])
        figures["art_vs_ours_adv_max_abs_diff"] = float(diff.max())
        figures["art_vs_ours_adv_identical_fraction"] = round(float(np.mean(diff < 1e-5)), 5)
        figures["torch_speedup_vs_art"] = round(figures["pgd20_art_wall_s"] / figures["pgd20_torch_wall_s"], 3)
        figures["torch_speedup_vs_art_cpu_time"] = round(
            figures["pgd20_art_process_cpu_s"] / figures["pgd20_torch_process_cpu_s"], 3)
        figures["torch_speedup_vs_art_frozen"] = round(
            figures["pgd20_art_frozen_params_wall_s"] / figures["pgd20_torch_wall_s"], 3)
        figures["torch_goal_1_5x_met"] = figures["torch_speedup_vs_art"] >= 1.5
    if "art" in runs and "numpy" in runs:
        figures["numpy_speedup_vs_art"] = round(figures["pgd20_art_wall_s"] / figures["pgd20_numpy_wall_s"], 3)

    # (c) CPU vs CUDA.
    figures["gpu"] = gpu_workload(args.quick)
    set_threads(args.threads)

    th = figures["threads"]
    print(f"Defenses engine (threads: torch {th['torch_intra_op']}, BLAS {th['numpy_blas']}, cpus {th['cpus']})")
    print(f"  5-member MLP ensemble on digits: clean accuracy {figures['models']['clean_accuracy_ensemble']}"
          f" (members {figures['models']['clean_accuracy_members']})")
    print(f"  PGD-20 Linf eps {EPS} step {STEP_SIZE:g}, {n} samples, batch {args.batch}:")
    for label in ("torch", "numpy", "art", "art_frozen_params"):
        key = f"pgd20_{label}_wall_s"
        if key in figures:
            print(f"    {label:<18} {figures[key]:8.3f} s wall  {figures[f'pgd20_{label}_process_cpu_s']:8.3f} s CPU"
                  f"  {figures[f'pgd20_{label}_samples_per_s']:>9} samples/s")
    if "torch_speedup_vs_art" in figures:
        print(f"  torch vs ART: x{figures['torch_speedup_vs_art']} (goal >= 1.5; vs ART with frozen weights"
              f" x{figures['torch_speedup_vs_art_frozen']}); same adversarial examples:"
              f" {figures['art_vs_ours_adv_identical_fraction']:.4f} of entries, robust accuracy"
              f" ours {figures.get('robust_accuracy_torch')} / ART {figures['robust_accuracy_art']}")
    if "numpy_over_torch_time" in figures:
        print(f"  numpy vs torch CPU time: x{figures['numpy_over_torch_time']} (goal <= 2)")
    gpu = figures["gpu"]
    if gpu.get("status") == "ran":
        print(f"  GPU ({gpu['device_name']}): CPU {gpu['cpu_s']} s vs CUDA {gpu['cuda_s']} s, x{gpu['speedup']}")
    else:
        print(f"  GPU: {gpu['status']}")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
