"""Helpers shared by the benchmarks: the machine description stored with every result, summary
statistics, writing results as JSON under bench/results/, and importing generated scripts."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Where results go: bench/results/ (committed, what docs/RESULTS.md is made from), or another
# directory for trial runs (bench/run_all.py --quick sets it, so a quick run never overwrites the
# committed full-run results).
RESULTS = Path(os.environ.get("SPECC_BENCH_RESULTS", REPO / "bench" / "results"))


def machine() -> dict:
    """What the numbers were measured on (shared machines: the load average matters)."""
    import torch

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def summary(values: list[float]) -> dict:
    """Median and spread (min, max, and the quartiles when there are enough values)."""
    out = {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }
    if len(values) >= 4:
        q = statistics.quantiles(values, n=4)
        out["q1"], out["q3"] = q[0], q[2]
    return out


def write_json(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def import_script(path: Path, name: str):
    """Import a generated script as module `name` (registered in sys.modules first, as an
    imported module is, so anything that looks its module up there finds it)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_script(text: str, directory: Path, name: str):
    """Write a generated script's text to directory/<name>.py and import it."""
    path = directory / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return import_script(path, name)
