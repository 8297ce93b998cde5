"""Speed of one-shot CLI queries, as whole processes, side by side in one run:

* `python -c pass`: the floor any Python CLI stands on;
* `atlaskb mitigations AML.T0043.002` with the parsed-KB cache warm, and with it off
  (ATLASKB_NO_CACHE=1: parses the vault every time);
* the batch form: 20 technique IDs on stdin to one `atlaskb mitigations -`;
* MITRE's mitreattack-python answering the same question from a STIX 2.1 bundle of
  ATLAS (import, load the bundle, find the technique, walk its mitigations, print).

Goals: atlaskb ≥ 5× faster than mitreattack-python with the cache warm (issue 16; issue 3
asked ≥ 3×), and close to `python -c pass`. Runs are interleaved round-robin so that machine noise hits every command alike;
the figures are medians. Both tools' answers are checked to agree before timing.

Run: python bench/bench_cli.py [--runs N | --quick]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

QUESTION = "AML.T0043.002"
BATCH = 20

# The mitreattack-python side: everything it needs to answer, timed as one process.
MITREATTACK_SCRIPT = r'''
import sys
from mitreattack.stix20 import MitreAttackData

data = MitreAttackData(stix_filepath=sys.argv[1])
technique = data.get_object_by_attack_id(sys.argv[2], "attack-pattern")
for entry in data.get_mitigations_mitigating_technique(technique["id"]):
    obj = entry["object"]
    ext = next(r["external_id"] for r in obj["external_references"] if r.get("external_id"))
    print(ext, obj["name"])
'''


def atlaskb_command() -> list[str]:
    """The installed console script beside this interpreter, else `python -m atlaskb`."""
    script = os.path.join(os.path.dirname(sys.executable), "atlaskb")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "atlaskb"]


def run(cmd: list[str], env: dict, stdin: str | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return elapsed, proc.stdout


def stix_bundle(path: str, env: dict) -> str:
    """ATLAS as STIX 2.1: `atlaskb export stix` when this build has it, else a minimal
    spec-conformant bundle built here from `atlaskb.load()`."""
    proc = subprocess.run(atlaskb_command() + ["export", "stix", "--out", path], capture_output=True, text=True, env=env)
    if proc.returncode == 0 and os.path.getsize(path) > 0:
        return "atlaskb export stix"
    write_minimal_bundle(path)
    return "minimal bundle built by bench_cli.py"


def write_minimal_bundle(path: str) -> None:
    import uuid

    import atlaskb
    from atlaskb.model import MITIGATES, MITIGATION, SUBTECHNIQUE_OF, TECHNIQUE

    kb = atlaskb.load()
    g = kb.graph
    ns = uuid.uuid5(uuid.NAMESPACE_URL, "atlaskb-bench")
    stamp = "2024-01-01T00:00:00.000Z"
    kinds = {TECHNIQUE: "attack-pattern", MITIGATION: "course-of-action"}
    sid = {n: f"{kinds[d['type']]}--{uuid.uuid5(ns, n)}" for n, d in g.nodes(data=True) if d.get("type") in kinds}
    objects = []
    for n, s in sid.items():
        objects.append({"type": s.split("--")[0], "spec_version": "2.1", "id": s, "created": stamp,
                        "modified": stamp, "name": g.nodes[n].get("name") or n,
                        "external_references": [{"source_name": "mitre-atlas", "external_id": n}],
                        "x_mitre_is_subtechnique": "." in n.split(".", 1)[1]})
    for u, v, k in g.edges(keys=True):
        if k in (MITIGATES, SUBTECHNIQUE_OF) and u in sid and v in sid:
            objects.append({"type": "relationship", "spec_version": "2.1",
                            "id": f"relationship--{uuid.uuid5(ns, f'{k}|{u}|{v}')}", "created": stamp,
                            "modified": stamp, "relationship_type": k, "source_ref": sid[u], "target_ref": sid[v]})
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"type": "bundle", "id": f"bundle--{uuid.uuid5(ns, 'bundle')}", "objects": objects}, fh)


def ids_in(text: str) -> list[str]:
    import re

    return sorted(set(re.findall(r"\bAML\.M\d{4}\b", text)))


def main(argv=None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    runs = 15
    for i, a in enumerate(argv):  # --runs N, or --runs=N (run_all.py passes only dashed args)
        if a.startswith("--runs="):
            runs = int(a.split("=", 1)[1])
        elif a == "--runs" and i + 1 < len(argv):
            runs = int(argv[i + 1])
    if "--quick" in argv:
        runs = 5
    import atlaskb

    kb = atlaskb.load()
    techniques = [t for t in kb.nodes_of_type("technique")]
    batch_ids = "\n".join(techniques[:BATCH]) + "\n"
    figures: dict = {"runs": runs, "question": f"atlaskb mitigations {QUESTION}"}
    tmp = tempfile.mkdtemp(prefix="atlaskb-bench-cli-")
    try:
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"))
        env.pop("ATLASKB_NO_CACHE", None)
        env_nocache = dict(env, ATLASKB_NO_CACHE="1")
        cli = atlaskb_command()
        bundle = os.path.join(tmp, "atlas-stix.json")
        figures["stix_bundle"] = stix_bundle(bundle, env)
        script = os.path.join(tmp, "mitreattack_query.py")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(MITREATTACK_SCRIPT)

        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], env, None),
            "atlaskb (cache warm)": (cli + ["mitigations", QUESTION], env, None),
            "atlaskb (no cache)": (cli + ["mitigations", QUESTION], env_nocache, None),
            f"atlaskb batch of {BATCH} on stdin": (cli + ["mitigations", "-"], env, batch_ids),
        }
        try:
            import mitreattack  # noqa: F401

            commands["mitreattack-python (STIX)"] = ([sys.executable, script, bundle, QUESTION], env, None)
        except ImportError:
            figures["mitreattack"] = "not installed (pip install mitreattack-python)"

        # Same answer from both tools, before any timing (this run also warms the cache).
        _, ours = run(cli + ["mitigations", QUESTION, "--format", "csv"], env)
        if "mitreattack-python (STIX)" in commands:
            _, theirs = run(commands["mitreattack-python (STIX)"][0], env)
            if ids_in(ours) != ids_in(theirs):
                raise RuntimeError(f"answers differ: atlaskb {ids_in(ours)} vs mitreattack {ids_in(theirs)}")
            figures["answer"] = ids_in(ours)
        for cmd, e, stdin in commands.values():  # one untimed warm-up each (disk cache, .pyc)
            run(cmd, e, stdin)

        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, (cmd, e, stdin) in commands.items():
                times[name].append(run(cmd, e, stdin)[0])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = {name: statistics.median(v) for name, v in times.items()}
    figures["median_ms"] = {name: round(v * 1000, 1) for name, v in med.items()}
    figures["min_ms"] = {name: round(min(v) * 1000, 1) for name, v in times.items()}
    one = med["atlaskb (cache warm)"]
    base = med["python -c pass"]
    figures["atlaskb_minus_python_ms"] = round((one - base) * 1000, 1)
    figures["atlaskb_vs_python_pass"] = round(one / base, 2)
    figures["batch_per_id_ms"] = round(med[f"atlaskb batch of {BATCH} on stdin"] / BATCH * 1000, 2)
    figures["batch_speedup_vs_one_shots"] = round(one * BATCH / med[f"atlaskb batch of {BATCH} on stdin"], 1)
    figures["cache_speedup"] = round(med["atlaskb (no cache)"] / one, 2)
    if "mitreattack-python (STIX)" in med:
        figures["mitreattack_vs_atlaskb"] = round(med["mitreattack-python (STIX)"] / one, 2)
        figures["mitreattack_vs_atlaskb_no_cache"] = round(med["mitreattack-python (STIX)"] / med["atlaskb (no cache)"], 2)

    print(f"One-shot query as a whole process: {figures['question']}  (median of {runs}, interleaved)")
    for name in commands:
        print(f"  {name:<32} {figures['median_ms'][name]:8.1f} ms   (min {figures['min_ms'][name]:.1f})")
    if "mitreattack_vs_atlaskb" in figures:
        print(f"  mitreattack-python / atlaskb: x{figures['mitreattack_vs_atlaskb']} "
              f"(x{figures['mitreattack_vs_atlaskb_no_cache']} with no cache)   goal >= x5")
    else:
        print(f"  mitreattack-python: {figures.get('mitreattack')}")
    print(f"  atlaskb / python -c pass: x{figures['atlaskb_vs_python_pass']} "
          f"(+{figures['atlaskb_minus_python_ms']} ms over the bare interpreter)")
    print(f"  cache: x{figures['cache_speedup']} faster than parsing the vault each time")
    print(f"  batch: {figures['batch_per_id_ms']} ms per ID, x{figures['batch_speedup_vs_one_shots']} "
          f"faster than {BATCH} one-shot processes")
    print(f"  STIX bundle: {figures['stix_bundle']}")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
