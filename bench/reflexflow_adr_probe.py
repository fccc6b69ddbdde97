"""Why the ReflexFlow ADR term, weighted as specified (beta1 = 10), dominates training on digits.

A measurement of the claims in docs/reflexflow.md, "Why ADR, as specified, breaks training here".
Everything is computed by the generated code itself: generated/reflexflow_digits_adr.py (the
default ADR spec: t1 = t0*(1 - r), r ~ U(0, 1), gradients through the rollout and the target,
direction loss, beta1 = 10) and generated/reflexflow_digits_cfm.py (plain CFM) are imported
in-process, and the two stop-gradient readings are the same spec built by specc with
`loss.adr.detach_target=true` (gradient through the rollout into the second pass's input, not
into the target) and with `loss.detach_rollout=true, loss.adr.detach_target=true` (only the
prediction at x1_hat is pulled; with a detached rollout the target carries no gradient anyway).

1. Train the spec's UNet with the CFM script's own loss_fn, data stream, time sampling, AdamW,
   warm-up and clipping (its training loop without EMA, checkpoints and evaluation; seed 0,
   batch 64, lr 2e-3) for --steps steps, logging the pre-clip gradient norm. The probes below use
   the online weights (the rollout of ADR uses the online network too).
2. On a fixed batch (--batch real digits, fixed noise, t0 ~ U(0, 1), all seeded), for each fixed r:
   the ADR loss (the `adr` term that loss_fn logs: the per-sample direction loss, mean over the
   batch, unweighted) and the gradient norm over all parameters of the beta1-weighted ADR term,
   for the three gradient readings. loss_fn returns L = L_FM + beta1*L_ADR, so the ADR term's
   gradient is grad(L) - grad(L_FM), with grad(L_FM) from the CFM script's loss_fn on the same
   (x, eps, t0) (the same formula; the script checks that the two FM values agree). To fix r,
   the module's rollout_times is replaced by the same formula with the draw replaced by a
   constant (checked against the original on a seeded draw). Also: the mean cosine between
   u_adr and the model's error u0 - u0_hat at t0 (docs: u_adr = u0_hat + (t0/t1)*(u0 - u0_hat)),
   the cosine between the ADR and FM gradients, and the same quantities with r drawn as in
   training (the unpatched loss_fn, --draws seeded draws of the global RNG).
3. The FM loss of the trained model (fixed batch, and all 1,797 digits with one noise and time
   each) and the reference 1 + mean per-pixel variance of the data in model range: the FM loss
   of the best input-independent prediction (the per-pixel mean of eps - x).
4. With --adr-steps N > 0 (default: --steps), also train the default ADR loss_fn from the same
   initial weights on the same batches and log its pre-clip gradient norm and `fm` term.

    python bench/reflexflow_adr_probe.py                 # 300 steps, batch 256 (~3-5 min CPU)
    python bench/reflexflow_adr_probe.py --steps 20 --adr-steps 0 --draws 1   # smoke

Writes reflexflow_adr_probe.json under bench/results/ (or $SPECC_BENCH_RESULTS). One thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from common import import_script, machine, write_json  # noqa: E402

from specc.pipeline import build_spec  # noqa: E402

ADR_SPEC = REPO / "specs" / "reflexflow_digits_adr.yaml"
ADR_SCRIPT = REPO / "generated" / "reflexflow_digits_adr.py"
CFM_SCRIPT = REPO / "generated" / "reflexflow_digits_cfm.py"
R_VALUES = (0.1, 0.3, 0.5, 0.7, 0.9, 0.99)
# gradient readings: name -> spec overrides of specs/reflexflow_digits_adr.yaml
READINGS: dict[str, tuple[str, ...]] = {
    "through": (),  # the default: gradients through the rollout and the target
    "detach_target": ("loss.adr.detach_target=true",),
    "detached": ("loss.detach_rollout=true", "loss.adr.detach_target=true"),
}


def load_readings(work: Path) -> tuple[dict, bool]:
    """The ADR module per gradient reading; 'through' is the committed generated file. Also
    whether specc still builds that file byte for byte from its spec."""
    modules = {"through": import_script(ADR_SCRIPT, "rf_adr_through")}
    built = build_spec(ADR_SPEC, ())
    current = built.ok and built.text == ADR_SCRIPT.read_text(encoding="utf-8")
    for name, sets in READINGS.items():
        if not sets:
            continue
        result = build_spec(ADR_SPEC, sets)
        assert result.ok, [d.format() for d in result.diagnostics]
        path = work / f"rf_adr_{name}.py"
        path.write_text(result.text, encoding="utf-8")
        modules[name] = import_script(path, f"rf_adr_{name}")
    return modules, current


def fixed_rollout_times(module, r: float | torch.Tensor):
    """The generated rollout_times (t1_rule fraction) with its draw r ~ U(0, 1) replaced by r.
    The line below is the generated function's return line:
        return torch.minimum(t0, (t0 * (1.0 - r)).clamp_min(CONFIG.loss.t_eps))"""
    t_eps = module.CONFIG.loss.t_eps

    def rollout_times(t0: torch.Tensor) -> torch.Tensor:
        return torch.minimum(t0, (t0 * (1.0 - r)).clamp_min(t_eps))

    return rollout_times


def check_fixed_rollout(module) -> None:
    """The replacement equals the original when given the original's own draw."""
    assert module.CONFIG.loss.t1_rule == "fraction", module.CONFIG.loss.t1_rule
    t0 = torch.rand(1000, generator=torch.Generator().manual_seed(7))
    torch.manual_seed(11)
    expected = module.rollout_times(t0)
    torch.manual_seed(11)
    r = torch.rand(t0.shape, dtype=t0.dtype)
    assert torch.equal(fixed_rollout_times(module, r)(t0), expected)


def train(module, steps: int, seed: int) -> tuple[torch.nn.Module, list[dict]]:
    """The generated train() loop without EMA, checkpoints and evaluation, on the CPU: the same
    initial weights, batches, times, global-RNG reseeding, AdamW, warm-up and clipping."""
    m, tr = module, module.CONFIG.train
    cpu = torch.device("cpu")
    rt = m.Runtime(0, 1, cpu, seed)
    torch.manual_seed(m.seed_for(seed, 0, 0, "init"))
    model = m.build_model()
    optimizer = m.build_optimizer(model, cpu)
    log = []
    for step in range(steps):
        x, eps, y = m.coupled_batch(rt, step, tr.batch_size)
        torch.manual_seed(m.seed_for(seed, 0, step, "dropout"))
        t = m.sample_time(x.shape[0], m.generator_for(rt, step, "time"))
        optimizer.zero_grad(set_to_none=True)
        loss, terms = m.loss_fn(model, x, eps, t, y)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tr.grad_clip)
        for group in optimizer.param_groups:
            group["lr"] = m.lr_at(step)
        optimizer.step()
        log.append(
            {"step": step + 1, "loss": float(loss.detach()), "grad_norm": float(grad_norm)}
            | {k: float(v) for k, v in terms.items()}
        )
    return model, log


def flat_grad(model: torch.nn.Module, loss: torch.Tensor) -> torch.Tensor:
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).flatten()
            for g, p in zip(grads, params, strict=True)
        ]
    )


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-30))


def adr_term(module, model, x, eps, t0, g_fm: torch.Tensor, fm_value: float) -> dict:
    """Module's loss_fn on (x, eps, t0): the logged adr term and the gradient of beta1*L_ADR."""
    loss, terms = module.loss_fn(model, x, eps, t0, None)
    # loss_fn's FM term is the CFM loss computed the same way: they must agree
    assert abs(float(terms["fm"]) - fm_value) <= 1e-6 * max(1.0, fm_value), (terms, fm_value)
    g_adr = flat_grad(model, loss) - g_fm
    return {
        "adr_loss": float(terms["adr"]),
        "grad_norm_weighted": float(g_adr.norm()),
        "cos_grad_fm": cosine(g_adr, g_fm),
    }


@torch.no_grad()
def target_vs_error(module, model, x, eps, t0, rollout_times) -> float:
    """Mean per-sample cosine between u_adr and the error u0 - u0_hat at t0. The rollout lines are
    those of the generated loss_fn (pass 1, rollout_times, x1_hat, anti_drift_target); with the
    spec's velocity prediction the network's output is u0_hat itself, as loss_fn uses it."""
    m = module
    assert m.CONFIG.loss.prediction.kind == "velocity", m.CONFIG.loss.prediction.kind
    z0 = m.interpolate(x, eps, t0)
    u0_hat = model(z0, t0, None).float()
    t1 = rollout_times(t0)
    x1_hat = z0 + m.expand_t(t1 - t0, z0) * u0_hat
    u_adr = m.anti_drift_target(x1_hat, x, t1).flatten(1)
    error = (m.target_velocity(x, eps, t0) - u0_hat).flatten(1)
    return float(torch.nn.functional.cosine_similarity(u_adr, error, dim=1).mean())


def window_summary(log: list[dict], key: str, width: int = 100) -> list[dict]:
    out = []
    for start in range(0, len(log), width):
        values = [row[key] for row in log[start : start + width] if key in row]
        if values:
            out.append(
                {
                    "steps": [start + 1, start + len(values)],
                    "min": min(values),
                    "median": statistics.median(values),
                    "max": max(values),
                    "mean": statistics.fmean(values),
                    "last": values[-1],  # what the generated script logs at step % 100 == 0
                }
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="CFM training steps")
    parser.add_argument(
        "--adr-steps", type=int, default=None, help="ADR training steps (default: --steps; 0: none)"
    )
    parser.add_argument("--batch", type=int, default=256, help="probe batch size")
    parser.add_argument("--draws", type=int, default=5, help="random-r draws of the default rule")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    adr_steps = args.steps if args.adr_steps is None else args.adr_steps
    torch.set_num_threads(1)
    start = time.time()

    with tempfile.TemporaryDirectory(prefix="specc_adr_probe_") as work:
        adr, generated_current = load_readings(Path(work))
    cfm = import_script(CFM_SCRIPT, "rf_cfm")
    for module in adr.values():
        check_fixed_rollout(module)
    beta1 = adr["through"].CONFIG.loss.adr.beta1

    tick = time.time()
    model, cfm_log = train(cfm, args.steps, args.seed)
    cfm_train_s = time.time() - tick

    # the fixed probe batch: real digits, noise and t0, all from seeded generators
    m = adr["through"]
    images = m.to_model_range(m.dataset()[0])
    g = torch.Generator().manual_seed(args.seed + 12345)
    idx = torch.randperm(len(images), generator=g)[: args.batch]
    x = images[idx]
    eps = torch.randn(x.shape, generator=g)
    t0 = torch.rand(x.shape[0], generator=g)

    fm_loss, _ = cfm.loss_fn(model, x, eps, t0, None)
    fm_value = float(fm_loss.detach())
    g_fm = flat_grad(model, fm_loss)
    with torch.no_grad():  # FM loss over the whole dataset, one noise and time per digit
        eps_all = torch.randn(images.shape, generator=g)
        t_all = torch.rand(images.shape[0], generator=g)
        fm_all = float(cfm.loss_fn(model, images, eps_all, t_all, None)[0])
    reference = 1.0 + float(images.var(dim=0, unbiased=False).mean())

    fixed = []
    for r in R_VALUES:
        row: dict = {"r": r}
        for name, module in adr.items():
            original = module.rollout_times
            module.rollout_times = fixed_rollout_times(module, r)
            try:
                row[name] = adr_term(module, model, x, eps, t0, g_fm, fm_value)
            finally:
                module.rollout_times = original
        row["cos_target_error"] = target_vs_error(m, model, x, eps, t0, fixed_rollout_times(m, r))
        fixed.append(row)

    random_r = []
    for k in range(args.draws):
        row = {"draw": k}
        for name, module in adr.items():
            torch.manual_seed(10_000 + k)  # the same r for every reading
            row[name] = adr_term(module, model, x, eps, t0, g_fm, fm_value)
        torch.manual_seed(10_000 + k)
        row["cos_target_error"] = target_vs_error(m, model, x, eps, t0, m.rollout_times)
        random_r.append(row)

    adr_log, adr_train_s = [], 0.0
    if adr_steps > 0:
        tick = time.time()
        _, adr_log = train(adr["through"], adr_steps, args.seed)
        adr_train_s = time.time() - tick

    # ------------------------------------------------------------------------------ report
    cfm_tail = [row["grad_norm"] for row in cfm_log[-100:]]
    print(
        f"CFM-trained UNet: {args.steps} steps (seed {args.seed}, batch 64, AdamW 2e-3), "
        f"online weights, {cfm_train_s:.0f} s"
    )
    print(f"  training pre-clip |grad| over the last {len(cfm_tail)} steps: ", end="")
    print(f"min {min(cfm_tail):.3f}, median {statistics.median(cfm_tail):.3f}, ", end="")
    print(f"max {max(cfm_tail):.3f}")
    print(
        f"  FM loss: fixed batch of {args.batch} {fm_value:.4f}, all {len(images)} digits ", end=""
    )
    print(f"{fm_all:.4f}; reference 1 + mean per-pixel variance {reference:.4f}")
    print(f"  |grad L_FM| on the fixed batch: {float(g_fm.norm()):.4f}")
    print()
    print(
        f"ADR term on the fixed batch (L_ADR unweighted, |grad| of beta1*L_ADR, beta1 = {beta1:g})"
    )
    head = (
        f"{'r':>6} {'L_ADR':>7} {'cos(u_adr,err)':>14} {'|g| through':>12} "
        f"{'|g| det.target':>14} {'|g| detached':>12} {'cos(gADR,gFM)':>13} {'(detached)':>10}"
    )
    print(head)
    print("-" * len(head))

    def line(label: str, row: dict) -> str:
        return (
            f"{label:>6} {row['through']['adr_loss']:7.4f} {row['cos_target_error']:14.3f} "
            f"{row['through']['grad_norm_weighted']:12.3f} "
            f"{row['detach_target']['grad_norm_weighted']:14.3f} "
            f"{row['detached']['grad_norm_weighted']:12.3f} "
            f"{row['through']['cos_grad_fm']:13.3f} {row['detached']['cos_grad_fm']:10.3f}"
        )

    for row in fixed + random_r:  # a stop-gradient does not change the forward pass
        assert len({row[name]["adr_loss"] for name in READINGS}) == 1, row
    for row in fixed:
        print(line(f"{row['r']:g}", row))
    for row in random_r:
        print(line(f"U#{row['draw']}", row))
    if random_r:
        print("  (U#k: r ~ U(0, 1) per sample as in training, unpatched loss_fn, draw k)")
    if adr_log:
        print()
        print(
            f"training logs: default ADR from the same init ({adr_steps} steps, "
            f"{adr_train_s:.0f} s), and the CFM run above"
        )
        windows = zip(
            *(window_summary(adr_log, k) for k in ("grad_norm", "fm", "adr")), strict=True
        )
        for w_g, w_fm, w_adr in windows:
            a, b = w_g["steps"]
            print(
                f"  ADR steps {a:>4}-{b:<4} pre-clip |grad| min {w_g['min']:.2f} median "
                f"{w_g['median']:.2f} max {w_g['max']:.4g} last {w_g['last']:.2f}; "
                f"fm mean {w_fm['mean']:.4f}, adr mean {w_adr['mean']:.4f}"
            )
        for w_g, w_loss in zip(
            *(window_summary(cfm_log, k) for k in ("grad_norm", "loss")), strict=True
        ):
            a, b = w_g["steps"]
            print(
                f"  CFM steps {a:>4}-{b:<4} pre-clip |grad| min {w_g['min']:.2f} median "
                f"{w_g['median']:.2f} max {w_g['max']:.4g} last {w_g['last']:.2f}; "
                f"fm mean {w_loss['mean']:.4f}"
            )
    wall = time.time() - start
    print(f"\nwall {wall:.0f} s")

    payload = {
        "benchmark": "reflexflow_adr_probe",
        "command": "python bench/reflexflow_adr_probe.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "config": {
            "steps": args.steps,
            "adr_steps": adr_steps,
            "train_batch": cfm.CONFIG.train.batch_size,
            "lr": cfm.CONFIG.train.lr,
            "batch": args.batch,
            "r_values": list(R_VALUES),
            "draws": args.draws,
            "seed": args.seed,
            "beta1": beta1,
            "readings": {k: list(v) for k, v in READINGS.items()},
            "scripts": {
                "through": str(ADR_SCRIPT.relative_to(REPO)),
                "cfm": str(CFM_SCRIPT.relative_to(REPO)),
                "others": f"{ADR_SPEC.relative_to(REPO)} built with the readings' --set",
            },
            "generated_adr_script_current": generated_current,
            "weights": "online (no EMA)",
            "wall_s": wall,
            "cfm_train_s": cfm_train_s,
            "adr_train_s": adr_train_s,
        },
        "measurements": {
            "fm_loss_fixed_batch": fm_value,
            "fm_loss_all_digits": fm_all,
            "reference_one_plus_data_variance": reference,
            "fm_grad_norm": float(g_fm.norm()),
            "fixed_r": fixed,
            "random_r": random_r,
            "cfm_train_grad_norm": window_summary(cfm_log, "grad_norm"),
            "cfm_train_loss": window_summary(cfm_log, "loss"),
            "adr_train_grad_norm": window_summary(adr_log, "grad_norm"),
            "adr_train_fm": window_summary(adr_log, "fm"),
            "adr_train_adr": window_summary(adr_log, "adr"),
        },
    }
    path = write_json("reflexflow_adr_probe.json", payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
