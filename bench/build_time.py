"""How long `specc build` takes per spec: in-process (load -> render, the compiler's own cost) and
as a whole `specc build --stdout` process (Python start-up and imports included).

    python bench/build_time.py [--repeat 20]      # writes bench/results/build_time.json
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from common import REPO, machine, write_json

sys.path.insert(0, str(REPO))

from specc.pipeline import build_spec  # noqa: E402


def summarise(samples: list[float]) -> dict:
    return {"median_ms": 1e3 * statistics.median(samples), "min_ms": 1e3 * min(samples),
            "max_ms": 1e3 * max(samples), "n": len(samples)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
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
        for _ in range(max(1, args.repeat // 4)):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "specc", "build", "--stdout", str(spec)],
                           cwd=REPO, check=True, capture_output=True)  # fmt: skip
            cli.append(time.perf_counter() - start)
        rows.append({"spec": spec.name, "in_process": summarise(inproc), "cli": summarise(cli)})
        print(f"{spec.name:<32} in-process {rows[-1]['in_process']['median_ms']:7.1f} ms   "
              f"whole CLI process {rows[-1]['cli']['median_ms']:7.1f} ms (median)")  # fmt: skip
    path = write_json("build_time.json", {
        "benchmark": "build_time",
        "command": "python bench/build_time.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "rows": rows,
    })  # fmt: skip
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
