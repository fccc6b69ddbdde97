"""Convergence order of the deterministic samplers, measured on Gaussian data with the exact
network (no training, so the only error is the sampler's): x ~ N(1.5, 0.3^2 I) in 2-D, the
closed-form marginal velocity of tests/analytic.py, 1024 noises; the error is the largest
distance to the exact ODE endpoint. The slope of log(error) against log(NFE) is the order.
DPM-Solver++(2M) appears twice: on a uniform t grid its last log-SNR steps do not shrink with N
(2 log 2 from t = 2/N to 1/N on the rectified path), which costs it its second order there; on
a log-SNR-uniform grid it has it.

    python bench/sampler_order.py [--quick]   # writes bench/results/sampler_order.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import REPO, machine, write_json

sys.path.insert(0, str(REPO / "tests"))
from analytic import GaussianModel, exact_endpoint, loglog_slope  # noqa: E402
from conftest import build_text, import_script  # noqa: E402

BASE = (
    "version: 1\nname: order\ndata: {kind: toy2d, distribution: moons}\n"
    "model: {kind: mlp, hidden: 8, depth: 1, time_dim: 8}\neval: {kind: w2, plot: false}\n"
)
MU, S = 1.5, 0.3
# (label, path, sampler section, expected order, NFE of n steps, steps for the fit)
SAMPLERS = [
    ("euler", "rectified", "{kind: euler}", 1, lambda n: n, [4, 8, 16, 32, 64]),
    ("ddim (eta 0)", "rectified", "{kind: ddim_eta, eta: 0.0}", 1, lambda n: n, [4, 8, 16, 32, 64]),
    ("heun (t)", "rectified", "{kind: heun, space: t}", 2, lambda n: 2 * n - 1, [4, 8, 16, 32]),
    ("midpoint (vp_cosine)", "vp_cosine", "{kind: midpoint}", 2, lambda n: 2 * n, [4, 8, 16, 32]),
    (
        "dpmpp_2m (uniform t grid)",
        "rectified",
        "{kind: dpmpp_2m}",
        2,
        lambda n: n,
        [32, 64, 128, 256],
    ),  # fmt: skip
    (
        "dpmpp_2m (log-SNR grid)",
        "rectified",
        "{kind: dpmpp_2m, t_max: 0.99, grid: {kind: logsnr_uniform}}",
        2,
        lambda n: n,
        [32, 64, 128, 256],
    ),  # fmt: skip
    (
        "heun (sigma, edm grid)",
        "rectified",
        "{kind: heun, space: sigma, grid: {kind: edm}}",
        2,
        lambda n: 2 * n - 1,
        [16, 32, 64, 128],
    ),  # fmt: skip
    ("rk4", "rectified", "{kind: rk4}", 4, lambda n: 4 * n, [8, 16, 32, 64]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer noises (CI)")
    parser.add_argument("--out", default="sampler_order.json")
    args = parser.parse_args()
    n_noise = 128 if args.quick else 1024
    tmp = Path(tempfile.mkdtemp())
    eps = torch.randn(n_noise, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    rows = []
    started = time.time()
    for label, path, sampler, order, nfe_of, steps in SAMPLERS:
        text = build_text(BASE + f"path: {{kind: {path}}}\nsampler: {sampler}\n", (), tmp)
        m = import_script(text, tmp, "order")
        model = GaussianModel(m, MU, S)
        errors = []
        for n in steps:
            t0 = m.time_grid(n)[0]
            z0 = float(m.sigma(torch.tensor(t0, dtype=torch.float64))) * eps
            z, nfe = m.sample(model, eps, steps=n)
            assert nfe == nfe_of(n), (label, n, nfe)
            errors.append((z - exact_endpoint(m, z0, t0, MU, S)).abs().max().item())
        nfes = [nfe_of(n) for n in steps]
        slope = loglog_slope(nfes, errors)
        rows.append({"sampler": label, "path": path, "expected_order": order, "steps": steps,
                     "nfe": nfes, "max_error": errors, "measured_order": -slope})  # fmt: skip
        print(
            f"{label:26s} expected {order}  measured {-slope:5.2f}   "
            + "  ".join(f"NFE {a}: {e:.2e}" for a, e in zip(nfes, errors, strict=True))
        )
    path = write_json(args.out, {
        "benchmark": "sampler_order",
        "command": "python bench/sampler_order.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "data": {"mu": MU, "s": S, "dim": 2, "noises": n_noise},
        "wall_s": time.time() - started,
        "rows": rows,
    })  # fmt: skip
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
