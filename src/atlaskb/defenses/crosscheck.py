"""Our attacks beside torchattacks' on the same models (bench/bench_crosscheck.py and a test
that runs where torchattacks is installed).

The same weights answer both: an `nn.Module` runs our torch backend's layers and returns
the soft vote's log-probabilities (for one network, its log-softmax), so torchattacks'
cross-entropy is the same loss ours differentiates. Inputs go to torchattacks as 8x8
images (Square draws square patches) and come back flattened. Compared: PGD with the same
step size, steps and random start; APGD (cross-entropy); and, for score-based attacks at
the same eps and query budget, our SimBA (log-prob margin) against Square (Andriushchenko
et al.), a different algorithm, so that pair agrees only as far as the attacks are equally
strong. Reported as robust accuracy (share of all points still right after the attack).
"""

from __future__ import annotations

import numpy as np

from atlaskb.defenses.attacks.gradient import APGD, PGD
from atlaskb.defenses.attacks.query import SimBA
from atlaskb.defenses.systems import Ensemble
from atlaskb.defenses.threat import ThreatModel


def as_module(system: Ensemble, image):
    """A torch module computing log p̄ of `system` (torch backend) on (N, C, H, W) inputs."""
    import torch

    from atlaskb.engine.torch_backend import _run

    class SoftVote(torch.nn.Module):
        def forward(self, x):
            x = x.reshape(x.shape[0], -1)
            lps = torch.stack([torch.log_softmax(_run(b, x), dim=1) for b in system.bounds])
            return torch.logsumexp(lps, dim=0) - np.log(len(system.bounds))

    return SoftVote().eval()


def compare(system: Ensemble, x: np.ndarray, y: np.ndarray, image, *, eps: float = 0.1, pgd_steps: int = 40,
            apgd_steps: int = 100, queries: int = 1000, seed: int = 0) -> dict:
    """Robust accuracy of ours and torchattacks' attacks on the same system and points."""
    import torch
    import torchattacks

    torch.manual_seed(seed)
    model = as_module(system, image)
    xt = torch.from_numpy(x.reshape(len(x), *image)).float()
    yt = torch.from_numpy(y.astype(np.int64))

    def theirs(attack):
        adv = attack(xt, yt).detach().numpy().reshape(len(x), -1).astype(np.float32)
        return float(np.mean(system.predict(adv) == y))

    def ours(attack, tm):
        out = attack(system, x, y, tm, np.random.default_rng(seed))
        return float(np.mean(system.predict(out.x_adv) == y))

    white = ThreatModel("white-box", "linf", eps)
    res = {
        "pgd": {"ours": ours(PGD(steps=pgd_steps), white),
                "torchattacks": theirs(torchattacks.PGD(model, eps=eps, alpha=2.5 * eps / pgd_steps,
                                                        steps=pgd_steps, random_start=True))},
        "apgd": {"ours": ours(APGD(steps=apgd_steps, restarts=1, losses=("ce",)), white),
                 "torchattacks": theirs(torchattacks.APGD(model, norm="Linf", eps=eps, steps=apgd_steps,
                                                          n_restarts=1, loss="ce", seed=seed))},
        "score_based": {"ours": ours(SimBA(), ThreatModel("scores", "linf", eps, queries)),
                        "torchattacks": theirs(torchattacks.Square(model, norm="Linf", eps=eps,
                                                                   n_queries=queries, n_restarts=1, seed=seed)),
                        "note": "ours: SimBA on the log-prob margin; theirs: Square"},
    }
    for v in res.values():
        v["difference"] = v["ours"] - v["torchattacks"]
    res["clean_accuracy"] = float(np.mean(system.predict(x) == y))
    return res
