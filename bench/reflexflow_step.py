"""Training-step cost of the ReflexFlow variants relative to plain CFM, side by side in one run.

The five variants of the digits ablation (specs/reflexflow_digits_*.yaml: cfm, ip, adr, fc,
adr_fc) are built from their specs, each imported as a module, and each runs the same training
step: its own loss_fn (with its extra passes), backward, gradient clipping, AdamW, EMA. They take
turns in every round (cfm, ip, adr, fc, adr_fc, cfm, ...), so load on a shared machine hits all
of them alike; each round gives one time per variant and one ratio to the same round's cfm.

    python bench/reflexflow_step.py                          # the digits UNet, batch 64
    python bench/reflexflow_step.py --sizes digits,unet32    # also a 32-channel UNet, batch 128
    python bench/reflexflow_step.py --device cuda --clock wall --out gpu_reflexflow_step.json

Writes reflexflow_step.json (or --out) under bench/results/ (or $SPECC_BENCH_RESULTS): the
machine, the config, every round's seconds per step, medians with spread and the ratios to cfm.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from common import load_script, machine, summary, write_json  # noqa: E402

from specc.pipeline import build_spec  # noqa: E402

VARIANTS = ("cfm", "ip", "adr", "fc", "adr_fc")
SIZES = {
    # name: (--set overrides on the ablation specs, batch)
    "digits": ((), 64),
    "unet32": (("model.channels=32", "model.head_channels=32"), 128),
}


def load_variant(variant: str, sets: tuple[str, ...], batch: int, work: Path):
    spec = REPO / "specs" / f"reflexflow_digits_{variant}.yaml"
    result = build_spec(spec, (*sets, f"train.batch_size={batch}"))
    assert result.ok, [d.format() for d in result.diagnostics]
    name = f"rf_step_{variant}_{abs(hash(sets))}"
    return load_script(result.text, work, name)


class Stepper:
    """One variant's model, EMA and optimizer, and its training step (what train() does per step
    minus data loading and logging)."""

    def __init__(self, mod, batch: int, device: torch.device):
        self.mod = mod
        torch.manual_seed(0)
        self.model = mod.build_model().to(device)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.opt = mod.build_optimizer(self.model, device)
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand((batch, *mod.DATA_SHAPE), generator=g).to(device) * 2 - 1
        self.eps = torch.randn(self.x.shape, generator=g).to(device)
        self.t = torch.rand(batch, generator=g).to(device)
        self.k = 0

    def step(self) -> None:
        torch.manual_seed(self.k)
        self.k += 1
        self.opt.zero_grad(set_to_none=True)
        loss, terms = self.mod.loss_fn(self.model, self.x, self.eps, self.t, None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.mod.update_ema(self.ema, self.model, self.k)  # its decay follows the step count
        loss.item()  # the loop syncs at its log step too


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="digits", help=f"comma-separated of {list(SIZES)}")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--clock", choices=["cpu", "wall"], default="cpu",
        help="cpu: process CPU seconds (robust on a shared machine), wall: elapsed seconds",
    )  # fmt: skip
    parser.add_argument("--out", default="reflexflow_step.json", help="file name under results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    work = Path(tempfile.mkdtemp(prefix="specc_rf_step_"))
    out: dict = {}
    for size in [s for s in args.sizes.split(",") if s]:
        sets, batch = SIZES[size]
        steppers = {v: Stepper(load_variant(v, sets, batch, work), batch, device) for v in VARIANTS}
        for s in steppers.values():  # warm-up (allocator, first-call overheads)
            for _ in range(3):
                s.step()
        rounds: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for r in range(args.rounds):
            for v, s in steppers.items():
                tick = clock()
                for _ in range(args.steps):
                    s.step()
                rounds[v].append((clock() - tick) / args.steps)
            shown = "  ".join(
                f"{v} {1e3 * rounds[v][-1]:.1f} ms ({rounds[v][-1] / rounds['cfm'][-1]:.2f}x)"
                for v in VARIANTS
            )
            print(f"{size} round {r}: {shown}", flush=True)
        ratios = {
            v: [a / b for a, b in zip(rounds[v], rounds["cfm"], strict=True)] for v in VARIANTS
        }
        n_params = sum(p.numel() for p in steppers["cfm"].model.parameters())
        out[size] = {
            "overrides": list(sets),
            "batch": batch,
            "parameters": n_params,
            "s_per_step": rounds,
            "s_per_step_summary": {v: summary(rounds[v]) for v in VARIANTS},
            "ratio_to_cfm": {v: summary(ratios[v]) for v in VARIANTS if v != "cfm"},
            "ratio_to_cfm_rounds": {v: ratios[v] for v in VARIANTS if v != "cfm"},
        }
        for v in VARIANTS[1:]:
            q = out[size]["ratio_to_cfm"][v]
            print(f"{size} {v}/cfm: median {q['median']:.3f} [{q['min']:.3f}, {q['max']:.3f}]")
    payload = {
        "benchmark": "reflexflow_step",
        "machine": machine(),
        "config": {
            "variants": {v: f"specs/reflexflow_digits_{v}.yaml" for v in VARIANTS},
            "steps_per_round": args.steps,
            "rounds": args.rounds,
            "threads": args.threads,
            "device": args.device,
            "clock": args.clock,
            "step": "loss_fn + backward + clip 1.0 + AdamW + EMA, fixed batch (no data loading)",
        },
        "sizes": out,
    }
    path = write_json(args.out, payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
