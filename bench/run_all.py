"""Run every benchmark, then regenerate docs/RESULTS.md and its figures from the JSON they write.

    python bench/run_all.py                 # the full CPU run (about 1.5 hours on 2 cores)
    python bench/run_all.py --quick         # a CI-scale smoke run (minutes), results in a temp dir
    python bench/run_all.py --only toy_couplings,sampler_order   # a subset, then the report
    python bench/run_all.py --report-only   # just rebuild docs/RESULTS.md from bench/results/
    python bench/run_all.py --gpu           # on a GPU machine: the one-shot GPU benchmark alone
                                            # (bench/gpu.py, about 6 min on an H100), the report
    python bench/run_all.py --gpu --dry-run # the same on the CPU at toy sizes, in a temp dir

Each benchmark is its own script in bench/ (run as a subprocess, one torch thread unless it says
otherwise) that writes one JSON file with the machine description into the results directory:
bench/results/ for a full run, a temporary directory (or --results DIR) for --quick, so a quick
run never overwrites the committed results. The report is docs/RESULTS.md plus PNG figures in
docs/results/ (or under --report DIR); every number in it comes from those JSON files.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    what: str
    gpu_only: bool = False


BENCHMARKS: list[Benchmark] = [
    Benchmark("build_time", "build_time.py", ("--repeat", "20"), ("--repeat", "1"),
              "specc build time per spec"),
    Benchmark("sampler_order", "sampler_order.py", (), ("--quick",),
              "convergence order of the deterministic samplers (exact Gaussian network)"),
    Benchmark("samplers_w2", "samplers_w2.py", (), ("--steps", "40", "--n", "200"),
              "samplers x NFE x W2 on one trained toy model"),
    Benchmark("epsilon_scaling", "epsilon_scaling.py", (),
              ("--train-steps", "150", "--n", "300", "--n-delta", "500", "--b", "0.9:1.5:0.1",
               "--tune-seeds", "0", "--test-seeds", "10,11"),
              "Epsilon Scaling: W2 vs lambda at low NFE, delta with and without"),
    Benchmark("toy_couplings", "toy_couplings.py", (),
              ("--seeds", "0", "--max-steps", "20", "--pairs", "300", "--eval-samples", "300"),
              "few-step W2, straightness and pair cost per coupling, and reflow"),
    Benchmark("coupling_overhead", "coupling_overhead.py",
              ("--setups", "toy,image", "--batches", "128,256,1024", "--image-batches",
               "128,256", "--rounds", "5", "--steps", "2", "--toy-steps", "50"),
              ("--setups", "toy", "--batches", "128", "--rounds", "1", "--steps", "1"),
              "training-step time of exact_ot vs independent (and torchcfm)"),
    Benchmark("solver_crossover", "solver_crossover.py", (), ("--quick",),
              "exact OT solve time, SciPy vs POT, by batch size and dimension"),
    Benchmark("train_step", "train_step.py", (),
              ("--window", "2", "--windows", "1", "--rounds", "1", "--batch", "4"),
              "generated training step vs a plain hand-written loop (CPU, fp32)"),
    Benchmark("reflexflow_step", "reflexflow_step.py", ("--sizes", "digits,unet32"),
              ("--sizes", "digits", "--rounds", "1", "--steps", "2"),
              "training-step cost of cfm, IP, ADR, FC and ADR+FC (digits ablation specs)"),
    Benchmark("reflexflow_ablation", "reflexflow_ablation.py", (),
              ("--seeds", "0", "--steps", "20", "--variants", "cfm,adr_fc", "--eval-samples",
               "200", "--nfe", "3"),
              "digits-FD and exposure bias of the ReflexFlow ablation over 3 seeds (~25 min)"),
    Benchmark("reflexflow_ablation_probes", "reflexflow_ablation.py", ("--probes",),
              ("--probes", "--seeds", "0", "--steps", "20", "--variants", "adr_detached",
               "--eval-samples", "200"),
              "the ADR probes: beta1 1 and 0.1, fully detached, over 3 seeds (~12 min)"),
    Benchmark("reflexflow_adr_probe", "reflexflow_adr_probe.py", (),
              ("--steps", "20", "--batch", "32", "--draws", "1"),
              "ADR loss and gradient norms against r and the FM gradient (about a minute)"),
    Benchmark("gpu", "gpu.py", (), ("--dry-run",),
              "one-shot GPU bench: images/s and MFU, exact OT overhead, ADR+FC step ratio",
              gpu_only=True),
]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI-scale settings, temp results")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--results", type=Path, default=None, help="results directory")
    parser.add_argument("--report", type=Path, default=None, help="report directory")
    parser.add_argument("--report-only", action="store_true", help="no benchmarks, just the report")
    parser.add_argument(
        "--gpu", action="store_true", help="only the GPU benchmark (bench/gpu.py), then the report"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="with --gpu: its CPU dry run (as --quick does)"
    )
    parser.add_argument(
        "--jobs", type=int, default=1,
        help="benchmarks run at once (only with --quick: timings need the machine to themselves)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.jobs > 1 and not args.quick:
        parser.error("--jobs goes with --quick: a full run's timings need the machine alone")
    if args.dry_run:
        if not args.gpu:
            parser.error("--dry-run goes with --gpu (the CPU benchmarks have --quick)")
        args.quick = True  # quick settings (the GPU bench's are its dry run), temp results
    if args.results is not None:
        results = args.results
    elif args.quick:
        results = Path(tempfile.mkdtemp(prefix="specc_bench_quick_"))
    else:
        results = BENCH / "results"
    report_dir = args.report or (results / "report" if args.quick else REPO / "docs")
    wanted = {n for n in args.only.split(",") if n}
    unknown = wanted - {b.name for b in BENCHMARKS}
    if unknown:
        parser.error(f"unknown benchmarks {sorted(unknown)}; known: {[b.name for b in BENCHMARKS]}")
    env = {**os.environ, "SPECC_BENCH_RESULTS": str(results), "OMP_NUM_THREADS": "1"}
    failed = []
    if not args.report_only:
        results.mkdir(parents=True, exist_ok=True)
        chosen = [
            b
            for b in BENCHMARKS
            if (not wanted or b.name in wanted) and b.gpu_only == args.gpu  # --gpu: it alone
        ]

        def run(bench: Benchmark) -> None:
            cmd = [sys.executable, str(BENCH / bench.script),
                   *(bench.quick if args.quick else bench.full)]  # fmt: skip
            start = time.time()
            print(f"== {bench.name}: {bench.what}\n   {' '.join(cmd[1:])}", flush=True)
            if args.jobs == 1:  # its output as it comes
                proc = subprocess.run(cmd, cwd=REPO, env=env)
            else:  # several at once: each one's output in one piece when it ends
                proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
                print(f"-- {bench.name}\n{proc.stdout}{proc.stderr}", end="", flush=True)
            print(f"   {bench.name}: exit {proc.returncode} in {time.time() - start:.0f} s",
                  flush=True)  # fmt: skip
            if proc.returncode:
                failed.append(bench.name)

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(run, chosen))
    sys.path.insert(0, str(BENCH))
    from report import write_report

    # The README's headline block follows the committed results only (never a --quick run's).
    readme = REPO / "README.md" if report_dir == REPO / "docs" else None
    path = write_report(results, report_dir, readme)
    print(f"wrote {path}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
