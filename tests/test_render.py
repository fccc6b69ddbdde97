"""render: hostile spec strings cannot break or run code; output is deterministic and pruned."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_literals import HOSTILE

from specc.pipeline import build_spec
from specc.render import banner, normalise

REPO = Path(__file__).resolve().parent.parent
BASE = "version: 1\ndata: {kind: toy2d, distribution: moons}\nmodel: {kind: mlp}\n"


def _yaml_string(text: str) -> str:
    # double-quoted YAML with every character escaped, so any text fits on one line
    return (
        '"'
        + "".join(f"\\U{ord(c):08x}" if ord(c) > 0xFFFF else f"\\u{ord(c):04x}" for c in text)
        + '"'
    )


@pytest.mark.parametrize("text", [h for h in HOSTILE if h != "\ud800"])
def test_hostile_descriptions_stay_data(tmp_path: Path, text: str):
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE + f"description: {_yaml_string(text)}\n", encoding="utf-8")
    result = build_spec(spec)
    assert result.ok, result.diagnostics
    tree = ast.parse(result.text)  # compiles
    # the module's top-level statements are the same as for a plain description: nothing injected
    plain = build_spec(_write(tmp_path / "plain.yaml", BASE + "description: plain\n")).text
    assert _top_level_names(tree) == _top_level_names(ast.parse(plain))
    assert isinstance(ast.get_docstring(tree, clean=False), str)
    ns: dict = {}
    exec(compile(_spec_block(result.text), "spec_block", "exec"), ns)  # noqa: S102
    assert ns["CONFIG"].description == text and ns["SPEC"]["description"] == text
    assert ns["SPEC_SHA256"] == result.resolved.sha256


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _top_level_names(tree: ast.Module) -> list[str]:
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names.extend(ast.unparse(t) for t in node.targets)
        else:
            names.append(type(node).__name__)
    return names


def _spec_block(text: str) -> str:
    """The script's Spec section only, with the imports it needs (runs without torch)."""
    start = text.index("# " + "-" * 10)
    end = text.index(banner("Setup"))
    return "import hashlib, json\nfrom types import SimpleNamespace\n" + text[start:end]


@pytest.mark.parametrize("name", ['a"b', "x y", "../up", "1abc", "a" * 65, "os.system", ""])
def test_names_that_cannot_be_file_names_are_rejected(tmp_path: Path, name: str):
    spec = _write(tmp_path / "spec.yaml", BASE + f"name: {_yaml_string(name)}\n")
    result = build_spec(spec)
    assert not result.ok
    assert result.diagnostics[0].path == "$.name"


def test_hostile_file_name_in_header_is_quoted(tmp_path: Path):
    weird = tmp_path / "we\nird"
    weird.mkdir()
    spec = _write(weird / "ok_name.yaml", BASE)
    result = build_spec(spec)
    assert result.ok
    for line in result.text.splitlines()[:2]:
        assert line.startswith("#")
    compile(result.text, "x", "exec")


def test_only_chosen_components_are_emitted(tmp_path: Path):
    text = build_spec(_write(tmp_path / "s.yaml", BASE)).text
    assert "math.cos(math.pi * progress)" not in text  # constant schedule: no cosine code
    assert "def sample_data" in text and text.count("def sample_data") == 1
    assert "checkerboard" not in text.split(banner("Data"))[1].split(banner("Model"))[0]
    # a velocity network on the rectified path with Euler: no conversions, no log-SNR, no
    # coupling solver, no guidance, no Epsilon Scaling, no stochastic noise, no diagnostics
    for absent in (
        "to_denoised",
        "to_velocity",
        "log_snr",
        "kappa",
        "def couple(",
        "ClassifierFreeGuidance",
        "epsilon",
        "noise_like",
        "generator: torch.Generator | None",
        "flow_diagnostics",
        "pair_cost",
        "write-pairs",
        "tune-es",
        "GradScaler",
        "init_from_checkpoint",
        "memory_format",
    ):
        assert absent not in text, absent
    cosine = build_spec(_write(tmp_path / "c.yaml", BASE + "train: {lr_schedule: cosine}\n")).text
    assert "math.cos(math.pi * progress)" in cosine
    extra = "sampler: {kind: ddim_eta, eta: 0.5}\nloss: {kind: cfm, prediction: {kind: x0}}\n"
    extra += "train: {t_min: 0.001}\n"
    other = build_spec(_write(tmp_path / "o.yaml", BASE + extra)).text
    assert "def to_denoised" in other and "noise_like(z, generator)" in other
    assert "generator: torch.Generator | None" in other


def test_sections_in_fixed_order(tmp_path: Path):
    text = build_spec(_write(tmp_path / "s.yaml", BASE)).text
    titles = [
        "Spec",
        "Setup",
        "Data",
        "Model",
        "Path",
        "Coupling",
        "Loss",
        "Sampler",
        "Eval",
        "Checkpoint",
        "Train",
        "Main",
    ]
    positions = [text.index(banner(t)) for t in titles]
    assert positions == sorted(positions)
    assert all(len(banner(t)) == 100 for t in titles)


def test_build_twice_is_byte_identical(tmp_path: Path):
    spec = _write(tmp_path / "s.yaml", BASE)
    assert build_spec(spec).text == build_spec(spec).text


def test_identical_across_hash_seeds():
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-m", "specc", "build", "--stdout", "specs/toy_moons.yaml"],
            cwd=REPO,
            env=env,
            capture_output=True,
            check=True,
        )
        outputs.add(proc.stdout)
    assert len(outputs) == 1


def test_normalise():
    assert normalise("a  \n\n\n\n\nb\n\n") == "a\n\n\nb\n"


def test_importing_a_script_has_no_side_effects(tmp_path: Path):
    text = build_spec(_write(tmp_path / "s.yaml", BASE)).text
    script = _write(tmp_path / "side.py", text)
    code = (
        "import importlib.util, os, sys; before = set(os.listdir('.'));"
        f"spec = importlib.util.spec_from_file_location('m', {str(script)!r});"
        "m = importlib.util.module_from_spec(spec); sys.modules['m'] = m;"
        "spec.loader.exec_module(m);"
        "assert set(os.listdir('.')) == before; assert 'specc' not in sys.modules;"
        "print(sorted(n for n in ('alpha','sigma','interpolate',"
        "'target_velocity','coupled_batch','sample_time','loss_fn','sample','build_model',"
        "'evaluate','main','CONFIG','SPEC','SPEC_SHA256') if hasattr(m, n)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().count(",") == 13  # all 14 stable names exist


def test_lone_surrogates_are_refused(tmp_path: Path):
    spec = _write(tmp_path / "spec.yaml", BASE + 'description: "\\ud800"\n')
    result = build_spec(spec)
    assert not result.ok and "lone surrogate" in result.diagnostics[0].message
