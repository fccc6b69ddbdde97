"""Few-step error, straightness and transport cost of the toy coupling specs, over several seeds.

Trains generated/couple_{independent,exact_ot,sinkhorn,stable}.py for each seed, writes reflow
pairs from the independent model (its `sample --pairs` command) and trains
generated/couple_reflow.py on them; every run is the generated script itself, run as a user
runs it. Reports the last eval of each run (W2 at 1, 2, 4, 8 Euler steps, the gap to the
100-step endpoint, straightness, pair costs) per seed and as median [min, max] over seeds, and
writes bench/results/toy_couplings.json.

    python bench/toy_couplings.py                       # 3 seeds, full 3000-step runs
    python bench/toy_couplings.py --seeds 0 --max-steps 300 --pairs 5000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, machine, summary, write_json

COUPLINGS = ("independent", "exact_ot", "sinkhorn", "stable")
METRICS = (
    "w2",
    "w2_euler_1",
    "w2_euler_2",
    "w2_euler_4",
    "w2_euler_8",
    "gap_euler_1",
    "gap_euler_2",
    "straightness",
    "straightness_rel",
    "pair_cost",
    "pair_cost_independent",
    "pair_cost_ot",
)


def run(args: list[str], cwd: Path) -> None:
    # One torch thread per run: on a shared 2-core machine two threads stall at every op whenever
    # another process holds a core (the metrics do not depend on it beyond float rounding).
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


def last_eval(out: Path) -> dict:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    evals = [json.loads(line) for line in lines if '"eval"' in line]
    return {k: evals[-1][k] for k in METRICS if k in evals[-1]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: 0,1,2)")
    p.add_argument("--max-steps", type=int, default=None, help="cap the 3000 training steps")
    p.add_argument("--pairs", type=int, default=50000, help="reflow pairs (default: 50000)")
    p.add_argument("--out", default="toy_couplings.json", help="file name under bench/results")
    p.add_argument(
        "--eval-samples", type=int, default=None,
        help="smoke runs: rebuild the specs with this eval.n_samples instead of generated/'s",
    )  # fmt: skip
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    cap = [] if args.max_steps is None else ["--max-steps", str(args.max_steps)]
    runs: dict[str, dict[int, dict]] = {name: {} for name in (*COUPLINGS, "reflow")}
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        scripts = Path(tmp) / "generated"  # a snapshot: rebuilding generated/ meanwhile is safe
        shutil.copytree(REPO / "generated", scripts)
        if args.eval_samples:
            sys.path.insert(0, str(REPO))
            from specc.pipeline import build_spec

            for name in (*COUPLINGS, "reflow"):
                sets = [f"eval.n_samples={args.eval_samples}"]
                built = build_spec(REPO / "specs" / f"couple_{name}.yaml", sets)
                (scripts / f"couple_{name}.py").write_text(built.text, encoding="utf-8")
        for seed in seeds:
            work = Path(tmp) / f"seed{seed}"
            work.mkdir()
            for name in COUPLINGS:
                script = str(scripts / f"couple_{name}.py")
                out = work / "runs" / f"couple_{name}"
                run([script, "--device", "cpu", "--seed", str(seed), "--out", str(out), *cap], work)
                runs[name][seed] = last_eval(out)
                print(f"seed {seed} {name:12s} {runs[name][seed]}", flush=True)
            teacher = str(scripts / "couple_independent.py")
            out = work / "runs" / "couple_independent"
            # the pair file where couple_reflow's coupling.pairs expects it (relative to work)
            run([teacher, "sample", "--device", "cpu", "--out", str(out),
                 "--seeds", f"0-{args.pairs - 1}", "--pairs", str(out / "pairs.pt")],
                work)  # fmt: skip
            script = str(scripts / "couple_reflow.py")
            out = work / "runs" / "couple_reflow"
            run([script, "--device", "cpu", "--seed", str(seed), "--out", str(out), *cap], work)
            runs["reflow"][seed] = last_eval(out)
            print(f"seed {seed} {'reflow':12s} {runs['reflow'][seed]}", flush=True)
    table = {
        name: {m: summary([r[m] for r in per_seed.values()]) for m in METRICS}
        for name, per_seed in runs.items()
    }
    payload = {
        "benchmark": "toy_couplings",
        "command": "python bench/toy_couplings.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "seeds": seeds,
        "max_steps": args.max_steps,
        "pairs": args.pairs,
        "eval_samples": args.eval_samples,
        "wall_s": time.time() - started,
        "runs": {name: {str(s): r for s, r in per_seed.items()} for name, per_seed in runs.items()},
        "summary": table,
    }
    path = write_json(args.out, payload)
    shown = ("w2", "w2_euler_1", "w2_euler_2", "w2_euler_4", "w2_euler_8", "straightness",
             "pair_cost")  # fmt: skip
    print(f"\nmedian [min, max] over seeds {seeds}")
    print(f"{'coupling':12s}" + "".join(f"{m:>24s}" for m in shown))
    for name, row in table.items():
        cells = "".join(
            f"{row[m]['median']:>10.4f} [{row[m]['min']:.3f}, {row[m]['max']:.3f}]" for m in shown
        )
        print(f"{name:12s}{cells}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
