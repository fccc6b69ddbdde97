"""The ReflexFlow ablation on the bundled 8x8 digits: baseline / +IP / +ADR / +FC / +ADR+FC.

Each variant is a spec, specs/reflexflow_digits_<variant>.yaml, sharing specs/base/
reflexflow_digits.yaml (same data, 16-channel UNet, 1000 steps of batch 64, Euler with 10 steps);
only `loss` differs. Every (variant, seed) builds its script and runs it on the CPU as a
subprocess with --seed; the final evaluation gives digits-FD (Frechet distance in a digits
classifier's features, not Inception FID) of 10-step Euler samples, the exposure-bias metric
delta_t (eval.exposure_bias, METHODS 7.1: chain and single_step, mean over the grid and at t = 0),
the velocity gap between biased and clean inputs and the frequency power ratios. Extra variants
(not in the paper's ablation) probe the ADR reading: adr_fc_fixed uses t1_rule fixed_step with
one sampler step (0.1) instead of t1 = t0*(1 - r).

    python bench/reflexflow_ablation.py                        # 3 seeds, all variants (~25 min CPU)
    python bench/reflexflow_ablation.py --seeds 0 --steps 30 --variants cfm,adr_fc   # smoke
    python bench/reflexflow_ablation.py --probes --seeds 0    # ADR probes: beta1 1, 0.1, detached

Writes reflexflow_ablation.json under bench/results/ (or $SPECC_BENCH_RESULTS): every run's final
metrics and training terms, and per variant the mean, standard deviation, min and max over seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from common import machine, write_json  # noqa: E402

from specc.pipeline import build_spec  # noqa: E402

# variant: (spec stem under specs/, extra --set overrides)
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cfm": ("reflexflow_digits_cfm", ()),
    "ip": ("reflexflow_digits_ip", ()),
    "adr": ("reflexflow_digits_adr", ()),
    "fc": ("reflexflow_digits_fc", ()),
    "adr_fc": ("reflexflow_digits_adr_fc", ()),
    "adr_fc_fixed": ("reflexflow_digits_adr_fc", ("loss.t1_rule=fixed_step", "loss.t1_step=0.1")),
    # the labelled safe reading (specs/reflexflow_digits_safe.yaml) and the paper's reading with
    # the rollout detached (--variants safe,adr_fc_detached)
    "safe": ("reflexflow_digits_safe", ()),
    "adr_fc_detached": ("reflexflow_digits_adr_fc", ("loss.detach_rollout=true",)),
    # probes of the ADR reading (--probes): smaller beta1, no gradient through rollout or target
    "adr_beta1_1": ("reflexflow_digits_adr", ("loss.adr.beta1=1.0",)),
    "adr_beta1_0.1": ("reflexflow_digits_adr", ("loss.adr.beta1=0.1",)),
    "adr_detached": (
        "reflexflow_digits_adr",
        ("loss.detach_rollout=true", "loss.adr.detach_target=true"),
    ),
}
ABLATION = ("cfm", "ip", "adr", "fc", "adr_fc", "adr_fc_fixed")
PROBES = ("adr_beta1_1", "adr_beta1_0.1", "adr_detached")
# scalar metrics kept from the final evaluation (prefixes)
KEEP = ("fd_digits", "exposure_bias_", "velocity_gap_", "pfr_")


def build(variant: str, steps: int | None, work: Path, eval_samples: int | None = None) -> Path:
    stem, sets = VARIANTS[variant]
    extra = (f"train.steps={steps}", f"train.checkpoint_every={steps}") if steps else ()
    if eval_samples:  # a smoke run: fewer samples for digits-FD and the exposure-bias metric
        extra += (f"eval.n_samples={eval_samples}", f"eval.exposure_bias.n_samples={eval_samples}")
    result = build_spec(REPO / "specs" / f"{stem}.yaml", (*sets, *extra))
    assert result.ok, [d.format() for d in result.diagnostics]
    path = work / f"{variant}.py"
    path.write_text(result.text, encoding="utf-8")
    return path


def run_one(script: Path, variant: str, seed: int, work: Path) -> dict:
    out = work / f"{variant}_seed{seed}"
    shared = work / "digits_classifier.pt"  # deterministic: trained once, copied into each run
    if shared.exists():
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared, out / shared.name)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(script), "--device", "cpu", "--seed", str(seed), "--out", str(out)]
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.time() - start
    if proc.returncode:
        raise RuntimeError(
            f"{variant} seed {seed} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
        )
    return parse_run(out, variant, seed, wall)


def parse_run(out: Path, variant: str, seed: int, wall: float | None) -> dict:
    """One run's final evaluation and training log, from its metrics.jsonl."""
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    final = [r for r in records if r["split"] == "eval"][-1]
    train = [r for r in records if r["split"] == "train"]
    metrics = {
        k: float(v) for k, v in final.items() if k.startswith(KEEP) and isinstance(v, (int, float))
    }
    shared = out.parent / "digits_classifier.pt"
    if not shared.exists() and (out / shared.name).exists():
        shutil.copyfile(out / shared.name, shared)
    curves = {k: v for k, v in final.items() if k.endswith("_curve")}
    print(f"{variant} seed {seed}: fd_digits {metrics['fd_digits']:.3f}, "
          f"exposure_bias_chain {metrics.get('exposure_bias_chain', float('nan')):.4f} "
          f"({wall or 0:.0f} s)", flush=True)  # fmt: skip
    return {
        "variant": variant,
        "seed": seed,
        "wall_s": wall,
        "metrics": metrics,
        "curves": curves,
        "train_last": train[-1] if train else {},
        "train_loss": [(r["step"], r["loss"]) for r in train],
    }


def aggregate(runs: list[dict]) -> dict:
    out: dict = {}
    for variant in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == variant]
        keys = sorted(set.intersection(*(set(r["metrics"]) for r in mine)))
        stats = {}
        for k in keys:
            values = [r["metrics"][k] for r in mine]
            stats[k] = {
                "mean": statistics.fmean(values),
                "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                "min": min(values),
                "max": max(values),
                "n": len(values),
                "values": values,
            }
        out[variant] = stats
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--variants", default=None, help=f"default: {','.join(ABLATION)}")
    parser.add_argument(
        "--probes", action="store_true",
        help=f"run the probe variants {PROBES} instead (to reflexflow_ablation_probes.json)",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, default=None, help="override train.steps (smoke)")
    parser.add_argument(
        "--eval-samples", type=int, default=None, help="override eval.n_samples (smoke)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (one thread each)")
    parser.add_argument(
        "--collect", type=Path, default=None,
        help="no training: summarise the finished runs (<variant>_seed<n>/) of an earlier "
        "invocation's work directory, e.g. one stopped part-way",
    )  # fmt: skip
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    default = PROBES if args.probes else ABLATION
    variants = [v for v in (args.variants or ",".join(default)).split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {list(VARIANTS)}")
    start = time.time()
    if args.collect is not None:
        runs = []
        for v in variants:
            for s in seeds:
                out = args.collect / f"{v}_seed{s}"
                done = (out / "metrics.jsonl").exists() and '"eval"' in (
                    out / "metrics.jsonl"
                ).read_text().splitlines()[-1]
                if done:
                    runs.append(parse_run(out, v, s, None))
        seeds = sorted({r["seed"] for r in runs})
        variants = [v for v in variants if any(r["variant"] == v for r in runs)]
    else:
        work = Path(tempfile.mkdtemp(prefix="specc_rf_ablation_"))
        print(f"work directory {work}", flush=True)
        scripts = {v: build(v, args.steps, work, args.eval_samples) for v in variants}
        jobs = [(v, s) for s in seeds for v in variants]
        runs = [run_one(scripts[jobs[0][0]], *jobs[0], work)]  # alone: trains the FD classifier
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            runs += pool.map(lambda job: run_one(scripts[job[0]], job[0], job[1], work), jobs[1:])
    summary = aggregate(runs)
    for variant, stats in summary.items():
        fd, eb = stats["fd_digits"], stats.get("exposure_bias_chain")
        shown = f"{variant:>13}: fd_digits {fd['mean']:.3f} +- {fd['std']:.3f}"
        if eb:
            shown += f", exposure_bias_chain {eb['mean']:.4f} +- {eb['std']:.4f}"
        print(shown)
    payload = {
        "benchmark": "reflexflow_ablation",
        "machine": machine(),
        "config": {
            "variants": {
                v: {"spec": f"specs/{VARIANTS[v][0]}.yaml", "set": list(VARIANTS[v][1])}
                for v in variants
            },  # fmt: skip
            "seeds": seeds,
            "runs_per_variant": {v: sum(r["variant"] == v for r in runs) for v in variants},
            "train_steps": args.steps or "spec (1000)",
            "metric": "fd_digits: digits-FD of 1000 Euler-10 EMA samples (not Inception FID)",
            "exposure_bias": "eval.exposure_bias, mode both, 1000 held-out digits, Euler-10 grid",
            "jobs": args.jobs,
            "wall_s": time.time() - start,
        },
        "runs": runs,
        "summary": summary,
    }
    name = "reflexflow_ablation_probes.json" if args.probes else "reflexflow_ablation.json"
    path = write_json(name, payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
