"""Everything one seed's experiments share, computed lazily and cached.

Techniques overlap (AML.T0043 is the worst case of its sub-techniques; AML.T0015 and
AML.T0031 reuse the whole evasion suite), so each expensive piece (the trained ensemble,
the baseline, each attack) is computed once per seed, on first use, from its own named
random stream: the numbers do not depend on which techniques were asked for or in what
order.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from atlaskb.defenses import data as data_mod
from atlaskb.defenses import ensemble, models
from atlaskb.defenses.attacks import backdoor, boundary, compromised, manual, pgd, simba, transfer
from atlaskb.defenses.config import Config
from atlaskb.defenses.ensemble import Classifier
from atlaskb.defenses.seeding import rng


class SeedContext:
    def __init__(self, backend, ds: data_mod.Dataset, cfg: Config, seed: int):
        self.backend, self.ds, self.cfg, self.seed = backend, ds, cfg, seed
        self.split = data_mod.split(ds, rng(seed, "split"))
        tr, att, te = self.split.train, self.split.attacker, self.split.test
        if cfg.n_test and cfg.n_test < len(te):
            te = np.sort(rng(seed, "test-subset").choice(te, size=cfg.n_test, replace=False))
        self.x_train, self.y_train = ds.x[tr], ds.y[tr]
        self.x_att, self.y_att = ds.x[att], ds.y[att]
        self.x_test, self.y_test = ds.x[te], ds.y[te]
        self.image = ds.image_shape
        self.k = ds.n_classes

    # ---- the systems under test -----------------------------------------------------
    @cached_property
    def members(self):
        return ensemble.train_members(self.backend, self.x_train, self.y_train, self.k, self.image,
                                      self.cfg, rng(self.seed, "members"))

    @cached_property
    def n_members(self) -> int:
        return len(models.member_specs(self.image))

    @cached_property
    def baseline(self) -> Classifier:
        net = ensemble.train_baseline(self.backend, self.x_train, self.y_train, self.k, self.image,
                                      self.cfg, rng(self.seed, "baseline"), self.n_members)
        return Classifier(self.backend, [net])

    @cached_property
    def defended(self) -> Classifier:
        return Classifier(self.backend, self.members, "soft")

    @cached_property
    def defended_majority(self) -> Classifier:
        return Classifier(self.backend, self.members, "majority")

    def clean_accuracy(self) -> dict:
        return {"baseline": self.baseline.accuracy(self.x_test, self.y_test),
                "defended": self.defended.accuracy(self.x_test, self.y_test),
                "defended_majority": self.defended_majority.accuracy(self.x_test, self.y_test)}

    # ---- evasion outcomes: per attack, robust accuracy and success rate --------------
    def _score(self, clf: Classifier, x_adv: np.ndarray) -> dict:
        """Robust accuracy over all test points, and attack success over the points the
        system got right before the attack (the usual definition of evasion rate)."""
        clean = clf.predict(self.x_test) == self.y_test
        adv = clf.predict(x_adv) == self.y_test
        asr = float(np.mean(~adv[clean])) if clean.any() else float("nan")
        return {"robust_accuracy": float(np.mean(adv)), "attack_success_rate": asr,
                "clean_accuracy": float(np.mean(clean))}

    def _pgd(self, clf_bounds, name):
        return pgd.pgd(self.backend, clf_bounds, self.x_test, self.y_test, eps=self.cfg.eps,
                       steps=self.cfg.pgd_steps, rng=rng(self.seed, "pgd", name))

    @cached_property
    def pgd_single(self) -> dict:
        return self._score(self.baseline, self._pgd(self.baseline.bounds, "single"))

    @cached_property
    def pgd_nonadaptive(self) -> dict:
        x_adv = self._pgd(self.defended.bounds[:1], "member0")
        return {"soft": self._score(self.defended, x_adv),
                "majority": self._score(self.defended_majority, x_adv)}

    @cached_property
    def pgd_adaptive(self) -> dict:
        x_adv = pgd.pgd_worst_of(self.backend, self.defended.bounds, self.x_test, self.y_test,
                                 self.defended.predict, eps=self.cfg.eps, steps=self.cfg.pgd_steps,
                                 rng=rng(self.seed, "pgd", "ensemble"))
        return {"soft": self._score(self.defended, x_adv),
                "majority": self._score(self.defended_majority, x_adv)}

    def _query_attack(self, clf: Classifier, kind: str, tag: str) -> dict:
        """Attack only the points `clf` gets right; success rate and mean queries."""
        ok = clf.predict(self.x_test) == self.y_test
        x, y = self.x_test[ok], self.y_test[ok]
        r = rng(self.seed, kind, tag)
        if kind == "simba":
            out = simba.simba(clf, x, y, eps=self.cfg.simba_eps, budget=self.cfg.query_budget, rng=r)
        else:
            out = boundary.boundary(clf, x, y, pool=self.x_att, budget=self.cfg.query_budget,
                                    l2_max=self.cfg.boundary_l2, rng=r)
        budget = self.cfg.query_budget
        spent = ~out.success & (out.queries >= budget)
        res = {"attack_success_rate": out.success_rate, "queries": out.mean_queries,
               "n_attacked": int(len(y)),
               "budget_exhausted": float(np.mean(spent)) if len(y) else None}
        if kind == "simba":
            # A SimBA run with a smaller budget is a prefix of this one (each input's tries
            # depend only on its own answers, and the coordinate orders are drawn for every
            # input each pass), so success within b queries reads off this run exactly.
            res["success_by_budget"] = {
                b: float(np.mean(out.success & (out.queries <= b))) if len(y) else float("nan")
                for b in self.budget_ladder}
        return res

    @property
    def budget_ladder(self) -> list[int]:
        """Query budgets at which SimBA's success is reported: 1/8, 1/4, 1/2 and all of it."""
        b = self.cfg.query_budget
        return sorted({max(1, b // 8), max(1, b // 4), max(1, b // 2), b})

    @cached_property
    def simba(self) -> dict:
        return {"baseline": self._query_attack(self.baseline, "simba", "baseline"),
                "defended": self._query_attack(self.defended, "simba", "defended")}

    @cached_property
    def boundary(self) -> dict:
        return {"baseline": self._query_attack(self.baseline, "boundary", "baseline"),
                "defended": self._query_attack(self.defended, "boundary", "defended")}

    @cached_property
    def surrogate(self):
        return transfer.train_surrogate(self.backend, self.x_att, self.y_att, self.k, self.image,
                                        epochs=self.cfg.epochs * 2, rng=rng(self.seed, "surrogate"),
                                        batch=self.cfg.batch, lr=self.cfg.lr)

    @cached_property
    def transfer(self) -> dict:
        """eps -> scores of baseline, soft-vote and majority-vote ensembles."""
        eps = sorted(set(self.cfg.transfer_eps) | {self.cfg.eps})
        advs = transfer.transfer_examples(self.backend, self.surrogate, self.x_test, self.y_test,
                                          eps_list=eps, steps=self.cfg.pgd_steps,
                                          rng=rng(self.seed, "transfer"))
        return {e: {"baseline": self._score(self.baseline, a), "soft": self._score(self.defended, a),
                    "majority": self._score(self.defended_majority, a)} for e, a in advs.items()}

    @cached_property
    def manual(self) -> dict:
        out = {}
        for name, fn in manual.MODIFICATIONS.items():
            x_mod = fn(self.x_test, self.image, rng(self.seed, "manual", name)).astype(np.float32)
            out[name] = {"baseline": self._score(self.baseline, x_mod),
                         "soft": self._score(self.defended, x_mod),
                         "majority": self._score(self.defended_majority, x_mod)}
        return out

    # ---- training-time attacks ----------------------------------------------------
    def _trigger(self, clf: Classifier) -> float:
        return backdoor.trigger_success(clf, self.x_test, self.y_test, self.image, self.cfg.target_class)

    @cached_property
    def poisoning(self) -> dict:
        """Poison from the attacker's data reaches the first `poisoned_members` members'
        partitions; the baseline trains on everything, poison included. With diversity
        training, the poisoned members are retrained as their own joint group (they share
        minibatches, so poison cannot reach one and not the other) and join the clean
        members from the full joint run."""
        cfg = self.cfg
        n_poison = max(1, int(round(cfg.poison_frac * len(self.y_train))))
        xp, yp = backdoor.poison_set(self.x_att, self.image, cfg.target_class, n_poison,
                                     rng(self.seed, "poison"))
        p = min(cfg.poisoned_members, self.n_members)
        poisoned = ensemble.train_members(
            self.backend, self.x_train, self.y_train, self.k, self.image, cfg,
            rng(self.seed, "members"), extra={i: (xp, yp) for i in range(p)},
            specs=models.member_specs(self.image)[:p])
        nets = poisoned + self.members[p:]
        base = ensemble.train_baseline(self.backend, np.concatenate([self.x_train, xp]),
                                       np.concatenate([self.y_train, yp]), self.k, self.image, cfg,
                                       rng(self.seed, "baseline"), self.n_members)
        b, d = Classifier(self.backend, [base]), Classifier(self.backend, nets)
        dm = d.with_vote("majority")
        return {"baseline": self._trigger(b), "soft": self._trigger(d), "majority": self._trigger(dm),
                "member_alone": [self._trigger(Classifier(self.backend, [n])) for n in poisoned],
                "n_poison": int(n_poison), "poisoned_members": p,
                "clean": {"baseline": b.accuracy(self.x_test, self.y_test),
                          "soft": d.accuracy(self.x_test, self.y_test),
                          "majority": dm.accuracy(self.x_test, self.y_test)}}

    def _compromised(self, bad_member, bad_alone) -> dict:
        nets = [bad_member] + self.members[1:]
        d = Classifier(self.backend, nets)
        dm = d.with_vote("majority")
        alone = Classifier(self.backend, [bad_alone])
        member = Classifier(self.backend, [bad_member])
        xt, yt = self.x_test, self.y_test
        return {"baseline": self._trigger(alone), "soft": self._trigger(d), "majority": self._trigger(dm),
                "member_alone": self._trigger(member),
                "clean": {"baseline": alone.accuracy(xt, yt), "soft": d.accuracy(xt, yt),
                          "majority": dm.accuracy(xt, yt), "member_alone": member.accuracy(xt, yt)}}

    @cached_property
    def compromised_tool(self) -> dict:
        """AML.T0010.001: the baseline is trained with the trojaned tool; in the ensemble
        only member 0 is (the other members' tools are clean). With diversity training the
        tool trains member 0 alone, where the diversity term is zero: a tool that trained
        every member jointly would compromise them all."""
        cfg = self.cfg
        hook = compromised.trojaned_tool(self.image, cfg.target_class, cfg.tool_poison_rate)
        spec0 = models.member_specs(self.image)[:1]
        bad = ensemble.train_members(self.backend, self.x_train, self.y_train, self.k, self.image, cfg,
                                     rng(self.seed, "members"), augment={0: hook}, specs=spec0)[0]
        base = ensemble.train_baseline(self.backend, self.x_train, self.y_train, self.k, self.image,
                                       cfg, rng(self.seed, "baseline"), self.n_members, augment=hook)
        return self._compromised(bad, base)

    @cached_property
    def compromised_model(self) -> dict:
        """AML.T0010.003: a backdoored pre-trained model, deployed alone (baseline) or as
        member 0 of the ensemble in place of the in-house one."""
        cfg = self.cfg
        bad = compromised.backdoored_pretrained(
            self.backend, self.x_att, self.y_att, self.k, self.image, target=cfg.target_class,
            rate=cfg.tool_poison_rate, epochs=cfg.epochs * 2, rng=rng(self.seed, "pretrained"),
            batch=cfg.batch, lr=cfg.lr)
        return self._compromised(bad, bad)

    # ---- reconnaissance -------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> dict:
        """AML.T0014: identification accuracy of the attacker's family classifier against
        single models of each family (baseline) and against ensembles whose majority
        (3 of 5 members) is that family, the rest one of each other family (defended).
        The attacker's shadow library holds single models only, trained on its own data."""
        from atlaskb.defenses.attacks import fingerprint as fp

        cfg, be = self.cfg, self.backend
        fams = fp.families(self.image)
        r = rng(self.seed, "fingerprint", "attacker")
        probes = fp.make_probes(self.x_att, cfg.probes, r)
        feats, labels = [], []
        for fi, fam in enumerate(fams):
            for _ in range(cfg.shadow_per_family):
                net = fp.random_model(be, fam, self.x_att, self.y_att, self.k, self.image,
                                      epochs=cfg.fingerprint_epochs, rng=r, batch=cfg.batch, lr=cfg.lr)
                feats.append(fp.features(Classifier(be, [net]), probes))
                labels.append(fi)
        finger = fp.Fingerprinter(probes, fams).fit(np.array(feats), np.array(labels))
        rd = rng(self.seed, "fingerprint", "defender")
        pool_size = max(cfg.targets_per_family, 3)
        pool = {fam: [fp.random_model(be, fam, self.x_train, self.y_train, self.k, self.image,
                                      epochs=cfg.fingerprint_epochs, rng=rd, batch=cfg.batch, lr=cfg.lr)
                      for _ in range(pool_size)] for fam in fams}
        single, ens = [], []
        for fam in fams:
            others = [f for f in fams if f != fam]
            for j in range(cfg.targets_per_family):
                single.append(finger.identify(Classifier(be, [pool[fam][j]])) == fam)
                nets = [pool[fam][(j + i) % pool_size] for i in range(3)]
                nets += [pool[o][j % pool_size] for o in others]
                ens.append(finger.identify(Classifier(be, nets)) == fam)
        return {"baseline": float(np.mean(single)), "soft": float(np.mean(ens)),
                "families": fams, "n_targets": len(single)}
