"""How long `specc build` takes per spec: in-process (load -> render, the compiler's own cost) and
as a whole `specc build --stdout` process (Python start-up and imports included).

    python bench/build_time.py [--repeat 20] [--json bench/results/build_time.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from specc.pipeline import build_spec  # noqa: E402


def machine() -> dict:
    import os

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


def summarise(samples: list[float]) -> dict:
    return {
        "median_ms": 1e3 * statistics.median(samples),
        "min_ms": 1e3 * min(samples),
        "max_ms": 1e3 * max(samples),
        "n": len(samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "build_time.json")
    args = parser.parse_args()
    specs = sorted((REPO / "specs").glob("*.yaml"))
    build_spec(specs[0])  # warm caches (schema, templates) once, as a long-lived process would
    rows = []
    for spec in specs:
        inproc = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = build_spec(spec)
            inproc.append(time.perf_counter() - start)
            assert result.ok
        cli = []
        for _ in range(max(3, args.repeat // 4)):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "specc", "build", "--stdout", str(spec)],
                cwd=REPO,
                check=True,
                capture_output=True,
            )
            cli.append(time.perf_counter() - start)
        rows.append({"spec": spec.name, "in_process": summarise(inproc), "cli": summarise(cli)})
        print(
            f"{spec.name:<32} in-process {rows[-1]['in_process']['median_ms']:7.1f} ms   "
            f"whole CLI process {rows[-1]['cli']['median_ms']:7.1f} ms (median)"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
