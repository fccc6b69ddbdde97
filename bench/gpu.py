"""The one-shot GPU benchmark: every GPU measurement of issue 15 in one command, in one sequence of
processes on one machine, each part writing bench/results/gpu_<part>.json.

    python bench/run_all.py --gpu             # this, then docs/RESULTS.md (about 6 min on an H100)
    python bench/gpu.py                       # this alone (prints its report section)
    python bench/gpu.py --dry-run             # the same code path on the CPU at toy sizes, fp32,
    python bench/run_all.py --gpu --dry-run   # no compile, into a temp dir (under a minute)

The parts, run one after another by the existing benchmark scripts:

- train_step (bench/train_step.py): images/s of the generated CIFAR-10 script (torchcfm's
  35.7M-parameter UNet, batch 128, bf16 autocast, torch.compile, channels_last, fused AdamW, TF32)
  against the same model in a plain fp32 eager loop shaped like torchcfm's CIFAR-10 example
  (`--plain fp32-eager`), alternating in one process; model FLOPs utilisation of both from the
  FLOPs torch.utils.flop_counter counts for one step over the device's dense bf16 peak.
- coupling_overhead (bench/coupling_overhead.py --device cuda): the training step of the same
  UNet with exact OT against the independent coupling at batch 256 and 1024 (and SciPy's solver,
  and torchcfm's where it is installed), the coupling in the CPU data worker as in train().
- reflexflow_step (bench/reflexflow_step.py --device cuda): the ADR+FC step against the CFM step
  (and IP, ADR, FC alone) for the digits UNet and the 32-channel one, the biggest of its sizes.

Every part alternates its variants within each round, so a ratio is taken within one round and
reported as median [min, max] over rounds. The data is random tensors of the dataset's shape
(3x32x32) unless CIFAR-10's python batches are in data/cifar10: nothing is downloaded.

Budget on one H100 (estimates from counted FLOPs; 9 minutes = 540 s is the limit). One
train_step is 37.3 GFLOP per image (forward + backward), 4.78 TFLOP at batch 128:
- train_step, cap 300 s: 3 rounds x (generated + plain) x 125 steps (5 windows of 25, the first
  one warm-up). Generated at ~25 % MFU: ~20 ms/step, 2.5 s a run; plain fp32 eager (TF32 convs
  by PyTorch's default) at ~60 TFLOP/s: ~80 ms/step, 10 s a run (150 ms, 19 s, if slower). Each
  generated run also starts its data worker, writes a 0.6 GB checkpoint and evaluates 8 samples
  (~5 s); torch.compile takes ~60-100 s cold in round 0 and ~0-20 s in rounds 1-2 (caches).
  3 x (2.5 + 5 + 10..19) + 100 + 2 x 20 + ~15 s start-up ~= 210-235 s.
- coupling_overhead, cap 170 s: the UNet in bf16 eager, 4 rounds + 1 warm-up, each 2 + 4 steps
  per variant, 3-4 variants. Batch 256: ~60 ms/step + ~1 s model and worker start-up a run,
  ~1.5 s x 20 runs = 30 s. Batch 1024: ~0.2 s/step, exact OT ~0.3-0.6 s per batch in the
  one-thread worker, ~3.5 s a run, ~14 s a round, 70 s; the coupling alone ~6 s; start-up ~10 s:
  ~115 s. Activations ~35 MB per image in bf16: ~36 GB at 1024 (an out-of-memory batch is
  recorded as such, the others still are measured).
- reflexflow_step, cap 60 s: 2 sizes x 5 variants x (3 + 5 x 20) steps of a small UNet,
  launch-bound at ~2-15 ms a step: ~10 s, plus ~10 s start-up.
Total ~340-360 s (caps 530 s), then the report (~10 s). Each part's time limit is what is left of
--budget-s less the caps of the parts after it, so an overrun cannot take the later parts' time;
a part that fails or overruns leaves no gpu_<part>.json and the command exits 1 naming it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"


@dataclass(frozen=True)
class Part:
    name: str  # writes gpu_<name>.json
    script: str
    gpu: tuple[str, ...]  # arguments on the GPU (besides --device and --out)
    dry: tuple[str, ...]  # arguments of the CPU dry run
    cap_s: int  # seconds this part may take in the GPU run
    required: tuple[str, ...]  # dotted keys its JSON must have (checked after it ran)


IMAGE_BATCHES = (256, 1024)
DRY_IMAGE_BATCHES = (8, 16)

PARTS: list[Part] = [
    Part("train_step", "train_step.py",
         ("--plain", "fp32-eager", "--model", "cifar10", "--batch", "128", "--window", "25",
          "--windows", "4", "--rounds", "3", "--clock", "wall"),
         ("--plain", "fp32-eager", "--model", "tiny", "--batch", "4", "--window", "2",
          "--windows", "1", "--rounds", "1", "--clock", "wall", "--threads", "1",
          "--peak-tflops", "1"),
         300,
         ("machine", "config.parameters", "config.batch", "images_per_s.generated",
          "images_per_s.plain", "generated_s_per_step", "plain_s_per_step",
          "ratio_generated_over_plain.median", "flops_per_step")),
    Part("coupling_overhead", "coupling_overhead.py",
         ("--setups", "image", "--image-model", "cifar10", "--image-batches",
          ",".join(map(str, IMAGE_BATCHES)), "--rounds", "4", "--steps", "4"),
         ("--setups", "image", "--image-model", "unet", "--image-batches",
          ",".join(map(str, DRY_IMAGE_BATCHES)), "--rounds", "1", "--steps", "1"),
         170,
         ("machine", "rounds", "results")),
    Part("reflexflow_step", "reflexflow_step.py",
         ("--sizes", "digits,unet32", "--rounds", "5", "--steps", "20", "--clock", "wall"),
         ("--sizes", "digits", "--rounds", "1", "--steps", "2", "--clock", "wall"),
         60,
         ("machine", "config.device", "sizes")),
]  # fmt: skip


def lookup(data: dict, dotted: str):
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            raise KeyError(dotted)
        data = data[key]
    return data


def problems(part: Part, data: dict, dry_run: bool) -> list[str]:
    """What the part's JSON lacks (empty when it has everything the report needs)."""
    out = []
    for key in part.required:
        try:
            lookup(data, key)
        except KeyError:
            out.append(f"no {key}")
    if part.name == "train_step" and "mfu" not in data:
        print("   (no bf16 peak known for this device: no MFU; pass --peak-tflops)", flush=True)
    if part.name == "coupling_overhead":
        for b in DRY_IMAGE_BATCHES if dry_run else IMAGE_BATCHES:
            res = data.get("results", {}).get(f"image/{b}")
            if res is None:
                out.append(f"no results for image/{b}")
            elif "error" not in res and "exact_ot/independent" not in res.get("ratios", {}):
                out.append(f"no exact_ot/independent ratio for image/{b}")
    if part.name == "reflexflow_step":
        for size, row in data.get("sizes", {}).items():
            if "adr_fc" not in row.get("ratio_to_cfm", {}):
                out.append(f"no adr_fc ratio for {size}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, toy sizes, temp results")
    parser.add_argument("--device", default="cuda", help="the GPU (default cuda)")
    parser.add_argument("--results", type=Path, default=None, help="results directory")
    parser.add_argument("--budget-s", type=float, default=530.0, help="time limit of all parts")
    parser.add_argument("--only", default="", help=f"comma-separated of {[p.name for p in PARTS]}")
    parser.add_argument("--peak-tflops", type=float, default=None, help="bf16 peak for the MFU")
    args = parser.parse_args(argv)
    committed = BENCH / "results"
    env_results = os.environ.get("SPECC_BENCH_RESULTS")
    if args.results is not None:
        results = args.results
    elif env_results:
        results = Path(env_results)
    elif args.dry_run:
        results = Path(tempfile.mkdtemp(prefix="specc_bench_gpu_dry_"))
    else:
        results = committed
    if args.dry_run and results.resolve() == committed.resolve():
        parser.error("a dry run never writes bench/results/: pass --results DIR")
    wanted = [p for p in PARTS if not args.only or p.name in args.only.split(",")]
    if args.only and len(wanted) != len(set(args.only.split(","))):
        parser.error(f"--only: known parts are {[p.name for p in PARTS]}")
    device = "cpu" if args.dry_run else args.device
    if not args.dry_run:
        import torch

        if not torch.cuda.is_available():
            print("no CUDA device: this benchmark needs a GPU (--dry-run runs it on the CPU)",
                  file=sys.stderr)  # fmt: skip
            return 2
    results.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SPECC_BENCH_RESULTS": str(results)}
    env.setdefault("OMP_NUM_THREADS", "1")
    # the GPU run keeps to its budget; a dry run's limits only catch a hang
    budget = args.budget_s if not args.dry_run else max(args.budget_s, 600.0)
    caps = [p.cap_s if not args.dry_run else budget / len(wanted) for p in wanted]
    start = time.perf_counter()
    failed: list[str] = []
    seconds: dict[str, float] = {}
    for i, part in enumerate(wanted):
        out = results / f"gpu_{part.name}.json"
        out.unlink(missing_ok=True)  # every gpu_*.json comes from this run, or is absent
        extra = ()
        if part.name == "train_step" and args.peak_tflops and not args.dry_run:
            extra = ("--peak-tflops", str(args.peak_tflops))
        cmd = [sys.executable, str(BENCH / part.script), *(part.dry if args.dry_run else part.gpu),
               *extra, "--device", device, "--out", out.name]  # fmt: skip
        limit = budget - (time.perf_counter() - start) - sum(caps[i + 1 :])
        print(f"== gpu {part.name} (limit {limit:.0f} s)\n   {' '.join(cmd[1:])}", flush=True)
        tick = time.perf_counter()
        try:
            code = subprocess.run(cmd, cwd=REPO, env=env, timeout=max(limit, 1.0)).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        seconds[part.name] = time.perf_counter() - tick
        print(f"   {part.name}: exit {code} in {seconds[part.name]:.0f} s", flush=True)
        if code != 0 or not out.exists():
            failed.append(f"{part.name} (exit {code})")
            out.unlink(missing_ok=True)
            continue
        data = json.loads(out.read_text())
        missing = problems(part, data, args.dry_run)
        if missing:
            failed.append(f"{part.name} ({'; '.join(missing)})")
            out.unlink()  # the report renders nothing half-written
    total = time.perf_counter() - start
    suite = {"command": "python bench/gpu.py" + (" --dry-run" if args.dry_run else ""),
             "dry_run": args.dry_run, "device": device, "budget_s": budget,
             "part_s": seconds, "total_s": total}  # fmt: skip
    for part in wanted:  # stamp each result with the run it came from
        out = results / f"gpu_{part.name}.json"
        if out.exists():
            data = json.loads(out.read_text())
            data["suite"] = suite
            out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"gpu: {len(wanted)} parts in {total:.0f} s; results in {results}", flush=True)
    sys.path.insert(0, str(BENCH))
    from report import section_gpu

    with tempfile.TemporaryDirectory() as report_dir:
        print("\n".join(section_gpu(results, Path(report_dir))))
    if failed:
        print(f"gpu: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
