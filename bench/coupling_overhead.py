"""Training-step time with the exact_ot coupling vs the independent one, and vs torchcfm's
ExactOptimalTransportConditionalFlowMatcher, side by side in one run.

Columns: independent, exact_ot (the default solver, `auto`: POT's network simplex from batch 128
on), exact_ot_scipy (coupling.solver: scipy) and torchcfm. Two setups, toy at batch 128, 256 and
1024 and image at 128 and 256 (a CPU takes about half a minute per UNet step at 1024;
`--image-batches 128,256,1024` on a GPU machine):
- toy: the toy MLP and 2-D data of specs/couple_{independent,exact_ot}.yaml, as generated;
- image: a small UNet (the generated `unet` of specs/cifar10.yaml, scaled down to 16 channels,
  channel_mult [1, 2], one residual block per level, attention at 16x16; `--image-model convnet`
  selects the small conv net defined here instead, `--image-model cifar10` the full 35.7M-parameter
  UNet of specs/cifar10.yaml) on synthetic 3x32x32 data, a mixture of ten smooth image-shaped
  means plus noise, so exact OT has real work.

`--device cuda` runs the training step on a GPU as the generated train() does there (the model in
channels_last, bf16 autocast, fused AdamW, TF32, cuDNN autotuning; eager: no torch.compile, which
would recompile for every fresh model), the clock read after a device synchronisation; the data,
noise and coupling stay on the CPU, in the data worker processes, as in train().

The specc columns drive the generated scripts' own functions exactly as their train() does:
their batches() starts train.data_workers DataLoader worker processes (by default one per spare
core, at most 8; `--data-workers N` sets it), which run worker_batch, i.e. coupled_batch (data,
noise and the coupling), train.prefetch (2) steps ahead while loss_fn, backward, clipping and
AdamW run in the main process. The torchcfm column draws the same data and noise in the main
thread and pairs them with torchcfm's ExactOptimalTransportConditionalFlowMatcher (POT's emd on
the CPU, then resampling), as its training examples do. Variants alternate within every round,
each round starting with the next one (none always runs first or last); the report gives the
median ms/step over rounds with [min, max], the per-round ratios to independent (after one
uncounted warm-up round), and the coupled_batch call alone: the work the data workers hide.

    pip install --no-deps torchcfm==1.0.7     # optional: the torchcfm column (needs POT)
    python bench/coupling_overhead.py          # writes bench/results/coupling_overhead.json
    python bench/coupling_overhead.py --rounds 2 --steps 3 --batches 256   # a quick look
    python bench/coupling_overhead.py --device cuda --setups image --image-model cifar10 \
        --image-batches 256,1024 --out gpu_coupling_overhead.json           # on a GPU
"""

from __future__ import annotations

import argparse
import copy
import gc
import sys
import time
from pathlib import Path

import torch
from common import REPO, machine, summary, write_json
from torch import Tensor, nn

sys.path.insert(0, str(REPO / "tests"))
from conftest import build_text, import_script  # noqa: E402  (builds a spec into a module)


class SmallConvNet(nn.Module):
    """A small time-conditioned conv net for 3x32x32 (a stand-in for the UNet of issue 7)."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.time = nn.Sequential(nn.Linear(1, width), nn.SiLU(), nn.Linear(width, 2 * width))
        self.inp = nn.Conv2d(3, width, 3, padding=1)
        self.down = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.mid = nn.Conv2d(2 * width, 2 * width, 3, padding=1)
        self.up = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1)
        self.out = nn.Conv2d(2 * width, 3, 3, padding=1)
        self.act = nn.SiLU()

    def forward(self, z: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        emb = self.time(t.float()[:, None])[:, :, None, None]
        h0 = self.act(self.inp(z))
        h = self.act(self.down(h0))
        h = self.act(self.mid(h) + emb)
        h = self.act(self.up(h))
        return self.out(torch.cat([h, h0], dim=1))


def image_data(module):
    """batch_for_step for the image setup: ten smooth 3x32x32 means (fixed), one per draw, plus
    N(0, 0.3^2) pixel noise; a pure function of (seed, rank, step) like the scripts' own data."""
    g = torch.Generator().manual_seed(1234)
    means = nn.functional.interpolate(
        torch.randn(10, 3, 4, 4, generator=g), size=32, mode="bicubic"
    )

    def batch_for_step(rt, step: int, batch_size: int):
        gen = module.generator_for(rt, step, "data")
        which = torch.randint(10, (batch_size,), generator=gen)
        x = means[which] + 0.3 * torch.randn(batch_size, 3, 32, 32, generator=gen)
        return x, None  # on the CPU, as the scripts' own batch_for_step

    return batch_for_step


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a GPU runs asynchronously; a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_steps_specc(module, model, rt, batch: int, start: int, n: int) -> float:
    """n training steps as the generated train() runs them (its batches(): train.data_workers
    processes, each train.prefetch steps ahead); returns seconds per step."""
    tr = module.CONFIG.train
    optimizer = module.build_optimizer(model, rt.device)
    steps = range(start, start + n + 2)
    loader = module.batches(rt, batch, steps.start, steps.stop)
    tick = 0.0
    for step, batch_ in zip(steps, loader, strict=True):
        if step == start + 2:  # two untimed steps: the worker starts, its queue fills, caches warm
            sync(rt.device)
            tick = time.perf_counter()
        if isinstance(batch_, str):  # a die() in the worker, as train() reports it
            raise SystemExit(batch_)
        x, eps, y = (v if v is None else torch.as_tensor(v).to(rt.device) for v in batch_)
        t = module.sample_time(len(x), module.generator_for(rt, step, "time")).to(rt.device)
        with module.autocast_context(rt):  # bf16 on a GPU, as train(); nothing on the CPU
            loss, _ = module.loss_fn(model, x, eps, t, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tr.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    sync(rt.device)
    return (time.perf_counter() - tick) / n


def train_steps_torchcfm(module, model, rt, batch: int, start: int, n: int, matcher) -> float:
    """The same model, data and optimizer, paired by torchcfm in the main thread (its reversed
    time: x0 noise, x1 data; its target is our -u, which costs the same)."""
    tr = module.CONFIG.train
    optimizer = module.build_optimizer(model, rt.device)
    tick = 0.0
    for step in range(start, start + n + 2):
        if step == start + 2:
            sync(rt.device)
            tick = time.perf_counter()
        x, _ = module.batch_for_step(rt, step, batch)
        gen = module.generator_for(rt, step, "noise")
        eps = torch.randn(x.shape, generator=gen, dtype=x.dtype)
        x, eps = x.to(rt.device), eps.to(rt.device)
        t, xt, ut = matcher.sample_location_and_conditional_flow(eps, x)
        with module.autocast_context(rt):
            v = model(xt, t)
        loss = (v.float() - ut).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tr.grad_clip)
        optimizer.step()
    sync(rt.device)
    return (time.perf_counter() - tick) / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7, help="alternating rounds (default: 7)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per variant and round")
    p.add_argument(
        "--toy-steps", type=int, default=None,
        help="timed steps per variant and round on the toy (default: --steps); its steps take "
        "milliseconds, so a few of them measure the data worker's start more than the steps",
    )  # fmt: skip
    p.add_argument(
        "--batches", default="128,256,1024", help="toy batch sizes (default: 128,256,1024)"
    )
    p.add_argument(
        "--image-batches", default="128,256", help="image batch sizes (default: 128,256)"
    )
    p.add_argument("--setups", default="toy,image", help="toy, image or both (default)")
    p.add_argument("--out", default="coupling_overhead.json", help="file name under bench/results")
    p.add_argument(
        "--image-model",
        choices=("unet", "convnet", "cifar10"),
        default="unet",
        help="the image setup's network (default: a small generated UNet; cifar10: the full UNet "
        "of specs/cifar10.yaml)",
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="where the training step runs (cpu, cuda); the coupling stays in the CPU data worker",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads of the training step (default 1: on a shared 2-core machine "
        "two threads stall at every op whenever another process holds a core; the coupling "
        "thread then has the other core, as a GPU run leaves the CPU to it)",
    )
    p.add_argument(
        "--data-workers", type=int, default=None,
        help="train.data_workers of the specc columns (default: the scripts' own, 0: one per spare "
        "core, at most 8); the batches do not depend on it",
    )  # fmt: skip
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    try:
        from torchcfm.conditional_flow_matching import ExactOptimalTransportConditionalFlowMatcher

        matcher = ExactOptimalTransportConditionalFlowMatcher(sigma=0.0)
    except ImportError:
        matcher = None
        print("torchcfm is not installed: its column is skipped (pip install --no-deps torchcfm)")
    tmp = Path(__import__("tempfile").mkdtemp())
    builds = {  # column: (spec, --set overrides)
        "independent": ("couple_independent", ()),
        "exact_ot": ("couple_exact_ot", ()),
        "exact_ot_scipy": ("couple_exact_ot", ("coupling.solver=scipy",)),
    }
    modules = {
        name: import_script(build_text(REPO / "specs" / f"{spec}.yaml", sets, tmp), tmp, name)
        for name, (spec, sets) in builds.items()
    }
    if args.data_workers is not None:
        for module in modules.values():
            module.CONFIG.train.data_workers = args.data_workers
    variants = list(builds) + (["torchcfm_exact_ot"] if matcher else [])
    unet = None
    if args.image_model in ("unet", "cifar10"):
        small = ("model.channels=16", "model.channel_mult=[1,2]", "model.num_res_blocks=1",
                 "model.attention_resolutions=[16]", "model.head_channels=16",
                 "model.norm_groups=8", "model.dropout=0.0")  # fmt: skip
        sets = small if args.image_model == "unet" else ()
        unet = import_script(build_text(REPO / "specs" / "cifar10.yaml", sets, tmp), tmp, "unet")
    train_cfg = modules["independent"].CONFIG.train
    if device.type == "cuda":  # what the scripts' setup_distributed does on a GPU
        if device.index is not None:
            torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = train_cfg.tf32
        torch.backends.cudnn.benchmark = True
    results: dict = {}
    for setup in args.setups.split(","):
        sizes = args.image_batches if setup == "image" else args.batches
        for batch in [int(b) for b in sizes.split(",")]:
            try:
                results[f"{setup}/{batch}"] = measure(
                    args, setup, batch, variants, modules, builds, unet, matcher, device
                )
            except torch.OutOfMemoryError as exc:  # a GPU too small for this batch: say so
                print(f"{setup} batch {batch}: out of memory ({exc})", flush=True)
                results[f"{setup}/{batch}"] = {"error": f"out of memory on {args.device}"}
            if "error" in results[f"{setup}/{batch}"]:  # (the traceback's tensors are gone now)
                gc.collect()
                torch.cuda.empty_cache()
    payload = {
        "benchmark": "coupling_overhead",
        "command": "python bench/coupling_overhead.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "toy_steps_per_round": args.toy_steps or args.steps,
        "torch_threads": args.threads,
        "torchcfm": "1.0.7" if matcher else None,
        "image_model": args.image_model,
        # where coupled_batch runs during training (results without this field: a thread)
        "batch_worker": "process",
        "data_workers": modules["exact_ot"].batches(None, 1, 0, 0).num_workers,
        "results": results,
    }
    if device.type != "cpu":  # (CPU results keep their fields as they were)
        payload["device"] = args.device
        payload["step"] = {
            "precision": train_cfg.precision,
            "channels_last": bool(train_cfg.channels_last),
            "fused_optimizer": bool(train_cfg.fused_optimizer),
            "optimizer": "AdamW",
            "tf32": bool(train_cfg.tf32),
            "compile": False,
        }
    path = write_json(args.out, payload)
    print(f"\n{'setup/batch':14s}" + "".join(f"{v + ' ms':>30s}" for v in variants) + "   ratios")
    for key, res in results.items():
        if "error" in res:
            print(f"{key:14s}{res['error']}")
            continue
        ms = res["ms_per_step"]
        cells = "".join(
            f"{ms[v]['median']:>12.1f} [{ms[v]['min']:.1f}, {ms[v]['max']:.1f}]".rjust(30)
            for v in variants
        )
        ratio = "  ".join(
            f"{k.split('/')[0]} {v['median']:.3f} [{v['min']:.3f}, {v['max']:.3f}]"
            for k, v in res["ratios"].items()
        )
        cb = res["coupled_batch_ms"]
        solo = "coupled_batch alone: " + ", ".join(
            f"{k} {v['median']:.1f} ms" for k, v in cb.items()
        )
        print(f"{key:14s}{cells}   {ratio}\n{'':14s}{solo}")
    print(f"wrote {path}")


def measure(args, setup: str, batch: int, variants, modules, builds, unet, matcher, device):
    """One setup at one batch size: every variant's ms/step in alternating rounds (after one
    uncounted warm-up round), their ratios to the same round's independent, and the coupled_batch
    call alone."""
    times: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(-1, args.rounds):  # round -1 warms up and is not counted
        turn = (r + 1) % len(variants)  # each round starts with the next variant: no fixed places
        for variant in variants[turn:] + variants[:turn]:
            module = modules.get(variant, modules["independent"])
            rt = module.Runtime(0, 1, device, r)
            if setup == "image":
                module.batch_for_step = image_data(module)
                module.DATA_SHAPE = (3, 32, 32)
                torch.manual_seed(0)
                model = SmallConvNet() if unet is None else unet.build_model()
            else:
                torch.manual_seed(0)
                model = module.build_model()
            model = model.to(device)
            if device.type == "cuda" and module.CONFIG.train.channels_last:
                model = model.to(memory_format=torch.channels_last)
            module.CONFIG = copy.deepcopy(module.CONFIG)  # a SimpleNamespace tree
            module.CONFIG.train.batch_size = batch
            start = 1000 * (r + 1)
            n = args.toy_steps or args.steps if setup == "toy" else args.steps
            if variant == "torchcfm_exact_ot":
                sec = train_steps_torchcfm(module, model, rt, batch, start, n, matcher)
            else:
                sec = train_steps_specc(module, model, rt, batch, start, n)
            if r >= 0:
                times[variant].append(1000 * sec)
        if r < 0:
            continue
        shown = "  ".join(f"{v} {times[v][-1]:8.2f} ms" for v in variants)
        print(f"{setup:5s} batch {batch:5d} round {r}: {shown}", flush=True)
    ratios = {
        f"{v}/independent": summary(
            [a / b for a, b in zip(times[v], times["independent"], strict=True)]
        )
        for v in variants[1:]
    }
    # The coupled_batch call alone (data + noise + coupling), timed in the main thread with
    # nothing else running in this process: what the data worker has to hide.
    solve: dict[str, list[float]] = {name: [] for name in builds}
    cpu = torch.device("cpu")
    for kind in solve:  # untimed: the solver's imports and first-call caches (the training steps
        # above ran coupled_batch in their worker process, not here)
        modules[kind].coupled_batch(modules[kind].Runtime(0, 1, cpu, 0), 4999, batch)
    for r in range(args.rounds):
        for kind in solve:
            rt = modules[kind].Runtime(0, 1, cpu, r)
            tick = time.perf_counter()
            modules[kind].coupled_batch(rt, 5000 + r, batch)
            solve[kind].append(1000 * (time.perf_counter() - tick))
    return {
        "coupled_batch_ms": {k: summary(v) for k, v in solve.items()},
        "ms_per_step": {v: summary(times[v]) for v in variants},
        "ratios": ratios,
        "raw_ms": times,
    }


if __name__ == "__main__":
    main()
