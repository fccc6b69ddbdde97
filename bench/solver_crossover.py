"""Exact OT solve time, SciPy's linear_sum_assignment against POT's network simplex (ot.emd), by
batch size k and dimension d: the measurement behind `coupling.solver: auto`.

The cost is |x_i - eps_j|^2 for x ~ N(1, 0.5^2 I) and eps ~ N(0, I) in float64, as the coupling
gives it; each cell is the median of a few solves, one torch/BLAS thread.

    python bench/solver_crossover.py            # writes bench/results/solver_crossover.json
    python bench/solver_crossover.py --quick    # k up to 256
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import ot
import torch
from common import machine, write_json
from scipy.optimize import linear_sum_assignment


def median_ms(solve, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        solve()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="k up to 256, fewer repeats")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ks = (64, 128, 256) if args.quick else (64, 128, 256, 512, 1024)
    rows = []
    for d in (2, 64, 3072):
        for k in ks:
            g = torch.Generator().manual_seed(k * 7919 + d)
            x = 1.0 + 0.5 * torch.randn(k, d, generator=g, dtype=torch.float64)
            eps = torch.randn(k, d, generator=g, dtype=torch.float64)
            cost = torch.cdist(x, eps).square().numpy()
            repeats = 3 if args.quick or k >= 1024 else 7
            scipy_ms = median_ms(lambda c=cost: linear_sum_assignment(c), repeats)
            pot_ms = median_ms(lambda c=cost: ot.emd([], [], c, numItermax=100_000_000), repeats)
            _, cols = linear_sum_assignment(cost)
            plan = ot.emd([], [], cost, numItermax=100_000_000)
            gap = abs(float(cost[np.arange(k), cols].sum()) - float((plan * cost).sum()) * k)
            rows.append({"d": d, "k": k, "scipy_ms": scipy_ms, "pot_ms": pot_ms,
                         "pot_over_scipy": pot_ms / scipy_ms, "cost_gap": gap})  # fmt: skip
            print(f"d {d:5d} k {k:5d}  scipy {scipy_ms:9.2f} ms  pot {pot_ms:9.2f} ms  "
                  f"pot/scipy {pot_ms / scipy_ms:5.2f}  cost gap {gap:.1e}")  # fmt: skip
    path = write_json("solver_crossover.json", {
        "benchmark": "solver_crossover",
        "command": "python bench/solver_crossover.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "rows": rows,
    })  # fmt: skip
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
