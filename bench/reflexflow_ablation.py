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
ABLATION = ("cfm", "ip", "adr", "fc", "adr_fc", "adr_fc_fixed", "safe", "adr_fc_detached")
NFE = (3, 5, 10, 25)  # digits-FD of Euler samples at each (10: the spec's own, from training)
BALANCE = ("grad_ratio_adr", "grad_ratio_fc", "grad_cos_adr", "grad_cos_fc", "adr_nsr")
PROBES = ("adr_beta1_1", "adr_beta1_0.1", "adr_detached")
# scalar metrics kept from the final evaluation (prefixes)
KEEP = ("fd_digits", "exposure_bias_", "velocity_gap_", "pfr_")


def build(
    variant: str,
    steps: int | None,
    work: Path,
    eval_samples: int | None = None,
    more: tuple[str, ...] = (),
    suffix: str = "",
) -> Path:
    stem, sets = VARIANTS[variant]
    extra = (f"train.steps={steps}", f"train.checkpoint_every={steps}") if steps else ()
    extra += more
    if eval_samples:  # a smoke run: fewer samples for digits-FD and the exposure-bias metric
        extra += (f"eval.n_samples={eval_samples}", f"eval.exposure_bias.n_samples={eval_samples}")
    result = build_spec(REPO / "specs" / f"{stem}.yaml", (*sets, *extra))
    assert result.ok, [d.format() for d in result.diagnostics]
    path = work / f"{variant}{suffix}.py"
    path.write_text(result.text, encoding="utf-8")
    return path


def finished(out: Path) -> bool:
    log = out / "metrics.jsonl"
    return log.exists() and '"eval"' in (log.read_text().splitlines() or [""])[-1]


def run_one(scripts: dict, variant: str, seed: int, work: Path) -> dict:
    """Train (unless an earlier invocation finished this run in `work`), then evaluate the final
    EMA weights at the other NFE and measure the loss's balance at the final online weights."""
    out = work / f"{variant}_seed{seed}"
    shared = work / "digits_classifier.pt"  # deterministic: trained once, copied into each run
    if shared.exists():
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared, out / shared.name)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    common = ["--device", "cpu", "--seed", str(seed), "--out", str(out)]
    start, wall = time.time(), None
    if not finished(out):
        cmd = [sys.executable, str(scripts[variant, None]), *common]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.time() - start
        if proc.returncode:
            raise RuntimeError(
                f"{variant} seed {seed} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
            )
    run = parse_run(out, variant, seed, wall)
    for nfe in [n for n in NFE if (variant, n) in scripts]:
        cmd = [sys.executable, str(scripts[variant, nfe]), "eval", *common]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode:
            raise RuntimeError(f"{variant} seed {seed} eval at {nfe} NFE failed:\n{proc.stderr}")
        run["metrics"][f"fd_digits_euler_{nfe}"] = json.loads(proc.stdout.splitlines()[-1])[
            "fd_digits"
        ]
    run["metrics"].update(final_balance(scripts[variant, None], out))
    return run


def final_balance(script: Path, out: Path, batches: int = 8) -> dict:
    """The script's own loss_balance (grad_ratio_*, grad_cos_*, adr_nsr) at the final online
    weights, median over the batches of the steps after the last (what the log would show next);
    {} for a loss without one (cfm, ip)."""
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location(f"rf_{out.name}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "loss_balance"):
        return {}
    state = torch.load(sorted((out / "checkpoints").glob("step_*.pt"))[-1], weights_only=True)
    model = module.build_model()
    model.load_state_dict(state["model"])
    rt = module.Runtime(0, 1, torch.device("cpu"), state["seed"])
    size = module.CONFIG.train.batch_size
    rows = []
    for step in range(state["step"], state["step"] + batches):
        x, eps, y = module.coupled_batch(rt, step, size)
        t = module.sample_time(size, module.generator_for(rt, step, "time"))
        extra = (step,) if module.CONFIG.loss.warmup_steps else ()
        rows.append(module.loss_balance(rt, model, x, eps, t, y, *extra))
    return {f"balance_{k}": statistics.median(r[k] for r in rows) for k in rows[0]}


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
        "--nfe", default=None,
        help=f"Euler step counts for digits-FD (default {NFE}, for --probes the spec's 10 only)",
    )  # fmt: skip
    parser.add_argument(
        "--work", type=Path, default=None,
        help="work directory; runs an earlier invocation finished there are reused (not retrained)",
    )  # fmt: skip
    parser.add_argument(
        "--tag", default="", help="suffix of the results file (e.g. _3000 for a longer run)"
    )
    parser.add_argument(
        "--collect", type=Path, default=None,
        help="no training: summarise the finished runs (<variant>_seed<n>/) of an earlier "
        "invocation's work directory, e.g. one stopped part-way",
    )  # fmt: skip
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    nfe = args.nfe if args.nfe is not None else "" if args.probes else ",".join(map(str, NFE))
    nfes = [int(n) for n in nfe.split(",") if n]
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
        work = args.work or Path(tempfile.mkdtemp(prefix="specc_rf_ablation_"))
        work.mkdir(parents=True, exist_ok=True)
        print(f"work directory {work}", flush=True)
        scripts = {(v, None): build(v, args.steps, work, args.eval_samples) for v in variants}
        for v in variants:
            for n in [n for n in nfes if n != 10]:
                sets = (f"sampler.steps={n}", "eval.exposure_bias.n_samples=64")
                scripts[v, n] = build(v, args.steps, work, args.eval_samples, sets, f"_nfe{n}")
        jobs = [(v, s) for s in seeds for v in variants]
        runs = [run_one(scripts, *jobs[0], work)]  # alone: trains the FD classifier
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            runs += pool.map(lambda job: run_one(scripts, job[0], job[1], work), jobs[1:])
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
            "nfe": sorted({10, *nfes}),
            "balance": "the script's loss_balance at the final online weights, median over the "
            "8 batches after the last step",
            "metric": "fd_digits: digits-FD of 1000 Euler-10 EMA samples (not Inception FID)",
            "exposure_bias": "eval.exposure_bias, mode both, 1000 held-out digits, Euler-10 grid",
            "jobs": args.jobs,
            "wall_s": time.time() - start,
        },
        "runs": runs,
        "summary": summary,
    }
    name = f"reflexflow_ablation{'_probes' if args.probes else ''}{args.tag}.json"
    path = write_json(name, payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
