"""A synthetic ATLAS-shaped vault of any size, for scale benchmarks (our own filler text).

Pages follow docs/vault-format.md: tactics, techniques with sub-techniques, mitigations
listing techniques with notes, case studies with procedure steps; both sides of every
mitigation link are written, as in a real vault. Deterministic for a given seed.
"""

from __future__ import annotations

import os
import random


def make_vault(root: str, pages: int, seed: int = 0) -> dict[str, int]:
    """Write about `pages` pages under `root`; returns the counts per type."""
    rng = random.Random(seed)
    n_tactics = 16
    n_mitigations = max(1, pages // 10)
    n_cases = max(1, pages // 10)
    n_techniques = max(1, pages - n_tactics - n_mitigations - n_cases)
    tactics = [f"SYN.TA{i:04d}" for i in range(n_tactics)]
    techniques = []
    parents = []
    i = 0
    while len(techniques) < n_techniques:
        parent = f"SYN.T{i:04d}"
        techniques.append(parent)
        parents.append(parent)
        for s in range(rng.randint(0, 3)):
            if len(techniques) < n_techniques:
                techniques.append(f"{parent}.{s:03d}")
        i += 1
    tactic_of = {t: rng.choice(tactics) for t in parents}
    mitigations = [f"SYN.M{i:04d}" for i in range(n_mitigations)]
    covers = {m: rng.sample(techniques, min(8, len(techniques))) for m in mitigations}
    covered_by: dict[str, list[str]] = {}
    for m, ts in covers.items():
        for t in ts:
            covered_by.setdefault(t, []).append(m)
    cases = [f"SYN.CS{i:04d}" for i in range(n_cases)]

    def path(obj: str) -> str:
        kind = obj.split(".")[1]
        if kind.startswith("TA"):
            return f"tactics/{obj.lower().replace('.', '-')}"
        if kind.startswith("T"):
            top = obj.rsplit(".", 1)[0] if obj.count(".") == 2 else obj
            folder = f"techniques/{tactic_of[top].lower().replace('.', '-')}"
            return f"{folder}/{obj.lower().replace('.', '-')}"
        if kind.startswith("M"):
            return f"mitigations/{obj.lower().replace('.', '-')}"
        return f"case-studies/{obj.lower().replace('.', '-')}"

    def link(obj: str) -> str:
        return f"[[frameworks/atlas/{path(obj)}|{obj}: Name of {obj}]]"

    def write(obj: str, body: list[str], kind: str | None = None) -> None:
        full = os.path.join(root, path(obj) + ".md")
        os.makedirs(os.path.dirname(full), exist_ok=True)
        head = ["---", f"id: {obj.lower()}", f'title: "{obj}: Name of {obj}"', f'sidebar_label: "Name of {obj}"']
        if kind:
            head.append(f"type: {kind}")
        head += ["---", "", f"# {obj}: Name of {obj}", "",
                 f"Synthetic filler describing {obj} for benchmarks; it says nothing real.", "",
                 "## Metadata", "", f"- **ID:** {obj}", "- **Created:** 2024-01-01", "- **Last Modified:** 2024-06-01"]
        with open(full, "w", encoding="utf-8") as fh:
            fh.write("\n".join(head + body) + "\n")

    for t in tactics:
        mine = [x for x in parents if tactic_of[x] == t]
        write(t, ["", f"## Techniques ({len(mine)})", ""] + [f"- [[frameworks/atlas/{path(x)}|{x}]] — Name of {x} (realized)" for x in mine])
    for t in techniques:
        body = ["- **Maturity:** " + rng.choice(["feasible", "demonstrated", "realized"])]
        if t.count(".") == 2:
            body += ["", f"**Parent Technique:** {t.rsplit('.', 1)[0]} — Name"]
        else:
            body += ["", "## Tactics (1)", "", f"- {link(tactic_of[t])}"]
        ms = covered_by.get(t, [])
        if ms:
            body += ["", f"## Mitigations ({len(ms)})", ""] + [f"- {link(m)} — synthetic note" for m in ms]
        write(t, body)
    for m in mitigations:
        write(m, ["", f"## Techniques ({len(covers[m])})", ""] + [f"- {link(t)} — synthetic note" for t in covers[m]], "mitigation")
    for c in cases:
        body = ["", "## Procedure"]
        for step, t in enumerate(rng.sample(techniques, min(6, len(techniques))), start=1):
            body += ["", f"### Step {step}: Name of {t}", "", f"**Technique:** {link(t)}", "", "Synthetic step text."]
        write(c, body, "case-study")
    return {"tactic": n_tactics, "technique": len(techniques), "mitigation": n_mitigations, "case-study": n_cases}
