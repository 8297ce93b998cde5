"""Cross-check: our PGD, APGD and score-based attack against torchattacks on the same
models (a single MLP and AML.M0006's five-member soft-vote ensemble, digits, eps 0.1 L-inf,
1000 queries). Goal: robust accuracy within 0.02 of the reference implementation.

Run: python bench/bench_crosscheck.py [--seeds N] [--n-test N]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from threadpoolctl import threadpool_limits

from atlaskb.defenses import crosscheck, data, ensemble
from atlaskb.defenses.mitigations import m0006
from atlaskb.defenses.systems import Ensemble
from atlaskb.engine import get_backend


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--n-test", type=int, default=200)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    out = []
    with threadpool_limits(1, "blas"):
        for seed in range(args.seeds):
            ds = data.digits()
            sp = data.split(ds, np.random.default_rng([seed, 1]))
            cfg = m0006.QUICK
            nets = ensemble.train_members(get_backend("numpy"), ds.x[sp.train], ds.y[sp.train], 10, ds.image_shape,
                                          cfg, np.random.default_rng(seed))
            tb = get_backend("torch", "cpu")
            te = sp.test[: args.n_test]
            x, y = ds.x[te], ds.y[te]
            for name, system in (("single mlp-relu(128)", Ensemble(tb, nets[:1])),
                                 ("5-member soft-vote ensemble", Ensemble(tb, nets))):
                res = crosscheck.compare(system, x, y, ds.image_shape, seed=seed)
                out.append({"seed": seed, "system": name, **res})
                print(json.dumps(out[-1], sort_keys=True))
    for attack in ("pgd", "apgd", "score_based"):
        d = [abs(r[attack]["difference"]) for r in out]
        print(f"{attack}: max |ours - torchattacks| robust accuracy = {max(d):.3f} over {len(d)} comparisons")


if __name__ == "__main__":
    main()
