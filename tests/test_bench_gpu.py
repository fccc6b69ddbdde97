"""bench/gpu.py, the one-shot GPU benchmark: its CPU dry run goes through every part as the GPU run
does (tiny sizes, fp32, no compile), writes each gpu_*.json into a temporary directory, and the
report renders them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PARTS = ("train_step", "coupling_overhead", "reflexflow_step")


def bench_module(name: str):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(REPO / "bench"))


@pytest.mark.slow
def test_dry_run_writes_every_part_and_the_report_renders_it(tmp_path: Path):
    pytest.importorskip("matplotlib")
    committed = {p.name: p.read_bytes() for p in (REPO / "bench" / "results").glob("*.json")}
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu.py"), "--dry-run", "--results", str(results)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    gpu = bench_module("gpu")
    data = {}
    for part in gpu.PARTS:
        path = results / f"gpu_{part.name}.json"
        assert path.exists(), path.name
        data[part.name] = json.loads(path.read_text())
        assert gpu.problems(part, data[part.name], dry_run=True) == [], part.name
        assert data[part.name]["suite"]["dry_run"] is True
        assert data[part.name]["machine"]
    assert {p.name for p in gpu.PARTS} == set(PARTS)
    train, ot, rf = (data[name] for name in PARTS)
    assert train["machine"]["device"] == "cpu" and train["config"]["plain"]["mode"] == "fp32-eager"
    assert train["flops_per_step"] > 0 and train["mfu"]["generated"] > 0
    assert set(ot["results"]) == {f"image/{b}" for b in gpu.DRY_IMAGE_BATCHES}
    assert "adr_fc" in rf["sizes"]["digits"]["ratio_to_cfm"]

    report = bench_module("report")
    assert report.section_gpu in report.SECTIONS
    lines = report.section_gpu(results, tmp_path / "report")
    text = "\n".join(lines)
    assert lines[0].startswith("## One-shot GPU benchmark") and "Dry run on the CPU" in text
    batch = train["config"]["batch"]
    ips = batch / train["generated_s_per_step"][0]
    shown = f"{ips:,.0f}" if ips >= 100 else report.fmt(ips, 1)
    assert f"| generated script | fp32, eager, AdamW | {shown} |" in text
    speedup = train["plain_s_per_step"][0] / train["generated_s_per_step"][0]
    assert f"trains at {report.fmt(speedup, 2)}x the plain loop" in text
    for b in gpu.DRY_IMAGE_BATCHES:
        ratio = ot["results"][f"image/{b}"]["ratios"]["exact_ot/independent"]["median"]
        assert f"| image/{b} |" in text and report.fmt(ratio) in text
    both = rf["sizes"]["digits"]["ratio_to_cfm"]["adr_fc"]["median"]
    assert f"ADR + FC costs {report.fmt(both, 2)}x a CFM step (digits" in text
    assert "**Agrees:**" in text or "**Disagrees:**" in text

    # the exact-OT verdict at image batch 256 (the dry run's batches are smaller)
    moved = json.loads(json.dumps(ot))
    moved["results"]["image/256"] = moved["results"].pop(f"image/{gpu.DRY_IMAGE_BATCHES[-1]}")
    (results / "gpu_coupling_overhead.json").write_text(json.dumps(moved))
    text = "\n".join(report.section_gpu(results, tmp_path / "report"))
    assert "at image batch 256 exact OT costs" in text
    # a dry run leaves the committed results alone
    assert {
        p.name: p.read_bytes() for p in (REPO / "bench" / "results").glob("*.json")
    } == committed


def test_section_gpu_is_empty_without_results(tmp_path: Path):
    pytest.importorskip("matplotlib")
    report = bench_module("report")
    assert report.section_gpu(tmp_path, tmp_path / "report") == []


def test_dry_run_refuses_the_committed_results_directory():
    gpu = bench_module("gpu")
    with pytest.raises(SystemExit) as exc:
        gpu.main(["--dry-run", "--results", str(REPO / "bench" / "results")])
    assert exc.value.code == 2
