"""Training-step time: the generated script's loop vs a plain hand-written loop, same UNet, same
batch, same device, in one process, alternating A B A B.

The plain loop is what a careful person writes by hand in the style of torchcfm's CIFAR-10
training script (its structure, not its code): an in-memory dataset indexed per step, random
flips, Gaussian noise, uniform t, the rectified-flow target, MSE, backward, gradient clipping at
1, Adam, and an EMA update every step. The generated script runs its own train() (a DataLoader
worker process preparing batches ahead, per-step seeded generators, logging, EMA, clipping) with
the same UNet and batch; its steps/s come from its metrics.jsonl windows, the plain loop's from
the same-sized windows. The CPU clock counts this process and its child processes (the data
worker), as it counted the generated script's prefetch thread before that became a process.

    python bench/train_step.py                 # CPU, fp32, a small UNet (a few minutes on 2 cores)
    python bench/train_step.py --device cuda   # GPU: the torchcfm CIFAR-10 UNet, bf16 + compile,
                                               # images/s for both and model FLOPs utilisation
    python bench/train_step.py --device cuda --plain fp32-eager   # the plain loop as torchcfm's
                                               # example runs it: fp32, eager, unfused Adam

By default (`--plain matched`) the plain loop on a GPU uses what the generated script uses (bf16
autocast, torch.compile, channels_last, fused Adam), so the ratio isolates the loop itself;
`--plain fp32-eager` runs it as torchcfm's CIFAR-10 example does (fp32, eager, contiguous
tensors, the default Adam, PyTorch's default TF32 flags), the baseline of bench/gpu.py. The
images come from CIFAR-10's python batches when --cifar10-root holds them, otherwise they are
random uint8 tensors of its shape (3x32x32): nothing is downloaded, and the speed does not
depend on the pixel values.

Writes bench/results/train_step_<device>.json (or --out: the machine, the config, every window,
medians, the ratio generated/plain of step times and its spread over the rounds, FLOPs per step).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from specc.pipeline import build_spec  # noqa: E402

CPU_MODEL = (
    "{kind: unet, channels: 32, channel_mult: [1, 2, 2], num_res_blocks: 1, "
    "attention_resolutions: [8], head_channels: 32, dropout: 0.1, time_scale: 1.0}"
)
TINY_MODEL = (  # a smoke-test size (bench/gpu.py --dry-run)
    "{kind: unet, channels: 16, channel_mult: [1, 2], num_res_blocks: 1, "
    "attention_resolutions: [16], head_channels: 16, norm_groups: 8, dropout: 0.1, "
    "time_scale: 1.0}"
)
GPU_MODEL = (
    "{kind: unet, channels: 128, channel_mult: [1, 2, 2, 2], num_res_blocks: 2, "
    "attention_resolutions: [16], head_channels: 64, dropout: 0.1, time_scale: 1.0}"
)
# dense bf16 tensor-core peaks (FLOP/s) by device-name fragment, for model FLOPs utilisation
# (the first fragment found in the name wins: "H100 PCIe" before "H100")
PEAK_BF16 = {"H100 PCIe": 756e12, "H100": 989e12, "H200": 989e12, "A100": 312e12}
PEAK_BF16 |= {"L4": 121e12, "A10": 125e12}


MODELS = {"cifar10": GPU_MODEL, "small": CPU_MODEL, "tiny": TINY_MODEL}


def cifar10_present(root: Path) -> bool:
    folder = root / "cifar-10-batches-py"
    return all((folder / f"data_batch_{i}").is_file() for i in range(1, 6))


def spec_text(data: str, model: str, batch: int, steps: int, window: int, gpu: bool) -> str:
    return f"""version: 1
name: bench_unet
data: {data}
model: {model}
sampler: {{kind: euler, steps: 1}}
train:
  steps: {steps}
  batch_size: {batch}
  lr: 2e-4
  warmup_steps: 0
  grad_clip: 1.0
  ema_decay: 0.9999
  log_every: {window}
  checkpoint_every: {steps}
  precision: {"bf16" if gpu else "fp32"}
  compile: {str(gpu).lower()}
eval: {{kind: w2, plot: false, n_samples: 8}}
"""


def load_script(text: str, directory: Path):
    import importlib.util

    path = directory / "bench_unet.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("bench_unet", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def cpu_time_with_children() -> float:
    """CPU seconds of this process (all its threads) plus its child processes, running ones (from
    /proc/<pid>/stat) and exited ones: the generated train() prepares batches in a DataLoader
    worker process, which time.process_time() alone does not see."""
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = time.process_time() + done.ru_utime + done.ru_stime
    me, ticks = str(os.getpid()), os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[1] == me:  # ppid; utime and stime are fields 14 and 15 of stat
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def generated_windows(mod, device: str, out: Path, clock) -> list[float]:
    """Seconds per step in each log window of one run of the script's own train(), on `clock`
    (the script times its windows with time.perf_counter, which is swapped for the clock)."""
    real_time = mod.time
    mod.time = SimpleNamespace(perf_counter=clock)
    try:
        assert mod.main(["--device", device, "--out", str(out)]) == 0
    finally:
        mod.time = real_time
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [1.0 / r["steps_per_s"] for r in map(json.loads, lines) if r["split"] == "train"]


def plain_windows(
    mod,
    data: torch.Tensor,
    device: torch.device,
    steps: int,
    window: int,
    batch: int,
    fast: bool,
    clock,
) -> list[float]:
    """The hand-written loop, same model class and batch; seconds per step in each window. With
    `fast` (a GPU, --plain matched) it uses bf16 autocast, compile, channels_last and fused Adam;
    without, it is fp32 eager with the default Adam and PyTorch's default TF32 flags (the
    generated script sets its own in the same process, so they are reset here)."""
    if device.type == "cuda" and not fast:
        torch.backends.cuda.matmul.allow_tf32 = False  # PyTorch's defaults
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = False
    torch.manual_seed(0)
    model = mod.build_model().to(device)
    if fast:
        model = model.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4, fused=fast)
    net = torch.compile(model) if fast else model
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=fast)
    images = data.to(device)
    g = torch.Generator(device=device).manual_seed(0)
    times: list[float] = []
    tick = clock()
    for step in range(steps):
        idx = torch.randint(0, len(images), (batch,), device=device, generator=g)
        x1 = images[idx].float() / 127.5 - 1.0
        flip = torch.rand(batch, device=device, generator=g) < 0.5
        x1 = torch.where(flip[:, None, None, None], x1.flip(-1), x1)
        x0 = torch.randn(x1.shape, device=device, generator=g)
        t = torch.rand(batch, device=device, generator=g)
        # canonical time (t = 0 data): z = (1 - t) x1 + t x0, u = x0 - x1
        tt = t[:, None, None, None]
        z = (1 - tt) * x1 + tt * x0
        with autocast:
            v = net(z, t)
        loss = (v.float() - (x0 - x1)).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), model.parameters(), strict=True):
                pe.lerp_(p, 1 - 0.9999)
        if (step + 1) % window == 0:
            loss.item()  # the generated loop syncs at its log step too
            now = clock()
            times.append((now - tick) / window)
            tick = now
    return times


def flops_per_step(mod, device: torch.device, batch: int) -> float:
    """Forward + backward FLOPs of one training step of the model (torch's FLOP counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = mod.build_model().to(device)
    z = torch.randn(batch, *mod.DATA_SHAPE, device=device)
    t = torch.rand(batch, device=device)
    with FlopCounterMode(display=False) as counter:
        model(z, t).square().mean().backward()
    return float(counter.get_total_flops())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--batch", type=int, default=None, help="default: 16 on CPU, 128 on GPU")
    parser.add_argument("--window", type=int, default=None, help="steps per timing window")
    parser.add_argument("--windows", type=int, default=4, help="timed windows per run")
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default=None,
        help="cpu: CPU seconds of the process and its data worker (all threads; robust on a "
        "shared machine), wall: elapsed seconds (default: cpu on the CPU, wall on a GPU)",
    )
    parser.add_argument("--peak-tflops", type=float, default=None, help="bf16 peak for MFU")
    parser.add_argument(
        "--plain",
        choices=["matched", "fp32-eager"],
        default="matched",
        help="the plain loop's settings on a GPU: matched (the generated script's bf16, compile, "
        "channels_last, fused Adam) or fp32-eager (torchcfm's CIFAR-10 example); the same on "
        "the CPU",
    )
    parser.add_argument(
        "--model", choices=sorted(MODELS), default=None, help="default: cifar10 on GPU, else small"
    )
    parser.add_argument(
        "--cifar10-root",
        type=Path,
        default=REPO / "data" / "cifar10",
        help="CIFAR-10's python batches (under cifar-10-batches-py/) if present; otherwise "
        "random uint8 images of its shape",
    )
    parser.add_argument("--out", default=None, help="file name (default train_step_<device>.json)")
    args = parser.parse_args()
    gpu = args.device.startswith("cuda")
    fast = gpu and args.plain == "matched"
    model_name = args.model or ("cifar10" if gpu else "small")
    torch.set_num_threads(args.threads)
    batch = args.batch or (128 if gpu else 16)
    window = args.window or (50 if gpu else 5)
    steps = window * (args.windows + 1)  # the first window is warm-up (and compilation)
    device = torch.device(args.device)
    clock_name = args.clock or ("wall" if gpu else "cpu")
    clock = time.perf_counter if clock_name == "wall" else cpu_time_with_children

    work = Path(tempfile.mkdtemp(prefix="specc_bench_"))
    if cifar10_present(args.cifar10_root):
        data_spec = f"{{kind: cifar10, root: '{args.cifar10_root}', split: train, hflip: true}}"
        data_source = f"CIFAR-10 training images from {args.cifar10_root}"
    else:
        rng = np.random.default_rng(0)
        np.save(work / "images.npy", rng.integers(0, 256, (2048, 3, 32, 32), dtype=np.uint8))
        path = work / "images.npy"
        data_spec = f"{{kind: tensor, path: '{path}', shape: [3, 32, 32], hflip: true}}"
        data_source = "random uint8 images of CIFAR-10's shape (3x32x32; no CIFAR-10 found)"
    text = spec_text(data_spec, MODELS[model_name], batch, steps, window, gpu)
    (work / "spec.yaml").write_text(text)
    result = build_spec(work / "spec.yaml")
    assert result.ok, [d.format() for d in result.diagnostics]
    mod = load_script(result.text, work)
    data = mod.dataset()[0]  # the images the generated script trains on, uint8 (N, 3, 32, 32)
    n_params = sum(p.numel() for p in mod.build_model().parameters())
    tr = mod.CONFIG.train

    gen_rounds, plain_rounds = [], []
    for r in range(args.rounds):
        g = generated_windows(mod, args.device, work / f"run{r}", clock)[1:]
        p = plain_windows(mod, data, device, steps, window, batch, fast, clock)[1:]
        gen_rounds.append(statistics.median(g))
        plain_rounds.append(statistics.median(p))
        ratio = gen_rounds[-1] / plain_rounds[-1]
        print(
            f"round {r}: generated {1e3 * gen_rounds[-1]:.1f} ms/step, "
            f"plain {1e3 * plain_rounds[-1]:.1f} ms/step, ratio {ratio:.3f}",
            flush=True,
        )
    ratios = [a / b for a, b in zip(gen_rounds, plain_rounds, strict=True)]
    gen_s, plain_s = statistics.median(gen_rounds), statistics.median(plain_rounds)
    report = {
        "benchmark": "train_step",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "device": args.device,
            "device_name": torch.cuda.get_device_name(device) if gpu else "cpu",
            **({"cuda": torch.cuda.get_device_name(device)} if gpu else {}),
        },
        "config": {
            "model": MODELS[model_name],
            "model_name": model_name,
            "parameters": n_params,
            "batch": batch,
            "image": [3, 32, 32],
            "data": data_source,
            "precision": "bf16" if gpu else "fp32",
            "compile": gpu,
            # what each loop ran with on this device (the script ignores its GPU settings on a CPU)
            "generated": {
                "precision": tr.precision if gpu else "fp32",
                "compile": bool(gpu and tr.compile),
                "channels_last": bool(gpu and tr.channels_last),
                "fused_optimizer": bool(gpu and tr.fused_optimizer),
                "tf32": bool(gpu and tr.tf32),
                "optimizer": "AdamW",
            },
            "plain": {
                "mode": args.plain,
                "precision": "bf16" if fast else "fp32",
                "compile": fast,
                "channels_last": fast,
                "fused_optimizer": fast,
                "tf32": ("matmul and cuDNN" if fast else "cuDNN only (PyTorch's default)")
                if gpu
                else False,
                "optimizer": "Adam",
            },
            "window_steps": window,
            "windows": args.windows,
            "rounds": args.rounds,
            "threads": args.threads,
            "clock": clock_name,
            "clock_counts": "elapsed time"
            if clock_name == "wall"
            else "CPU time of this process and its child processes (the data worker)",
        },
        "generated_s_per_step": gen_rounds,
        "plain_s_per_step": plain_rounds,
        "median_generated_s_per_step": gen_s,
        "median_plain_s_per_step": plain_s,
        "images_per_s": {"generated": batch / gen_s, "plain": batch / plain_s},
        "ratio_generated_over_plain": {
            "median": statistics.median(ratios),
            "min": min(ratios),
            "max": max(ratios),
        },
    }
    if gpu or args.peak_tflops:
        flops = flops_per_step(mod, device, batch)
        name = torch.cuda.get_device_name(device) if gpu else "cpu"
        peak = (
            args.peak_tflops * 1e12
            if args.peak_tflops
            else next((v for k, v in PEAK_BF16.items() if k in name), None)
        )
        report["flops_per_step"] = flops
        if peak:
            report["peak_flops"] = peak
            report["mfu"] = {"generated": flops / gen_s / peak, "plain": flops / plain_s / peak}
    results = Path(os.environ.get("SPECC_BENCH_RESULTS", REPO / "bench" / "results"))
    results.mkdir(parents=True, exist_ok=True)
    out = results / (args.out or f"train_step_{'cuda' if gpu else 'cpu'}.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("images_per_s", "ratio_generated_over_plain")}))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
