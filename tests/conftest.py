"""Shared fixtures: build a spec into a module in a temp dir and import it (never importing specc
from the generated code), golden update flags, a CI hypothesis profile, one torch thread."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent
# One intra-op thread, in process and in the scripts tests start: the test models are tiny, and
# spinning OpenMP threads slow them down many times over when the machine is busy.
os.environ.setdefault("OMP_NUM_THREADS", "1")
settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("ci")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite expected files of tests/cases, then fail listing them",
    )


@pytest.fixture(autouse=True, scope="session")
def _torch_threads() -> None:
    try:
        import torch
    except ImportError:  # compiler-only environments
        return
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


_MODULES: dict[str, object] = {}


def import_script(text: str, directory: Path, name: str = "script"):
    """Write `text` to directory/<name>_<hash>.py and import it as a fresh module."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    if digest in _MODULES:
        return _MODULES[digest]
    path = directory / f"{name}_{digest}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"specc_generated_{digest}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    _MODULES[digest] = module
    return module


def build_text(
    spec: Path | str, sets: tuple[str, ...] = (), tmp: Path | None = None, prune: bool = True
) -> str:
    """Build a spec file, or YAML text written to `tmp`, and return the script text (prune=False
    keeps the helpers that this spec's script does not reach, for testing them)."""
    from specc.pipeline import build_spec

    if isinstance(spec, str):
        assert tmp is not None
        path = tmp / "spec.yaml"
        path.write_text(spec, encoding="utf-8")
        spec = path
    result = build_spec(spec, sets, prune=prune)
    assert result.ok, "\n".join(d.format() for d in result.diagnostics)
    return result.text


@pytest.fixture(scope="session")
def script_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scripts")


@pytest.fixture(scope="session")
def import_text(script_dir: Path):
    """import_text(script_text, name) -> the imported module (tests are not a package)."""
    return lambda text, name="script": import_script(text, script_dir, name)


@pytest.fixture(scope="session")
def build_module(script_dir: Path):
    """build_module(spec_path_or_yaml_text, *sets, prune=True) -> the imported generated module.
    prune=False keeps every helper of the chosen units (e.g. a path's log_snr where this spec's
    sampler does not use it), to test its math."""

    def _build(spec: Path | str, *sets: str, prune: bool = True):
        text = build_text(spec, tuple(sets), script_dir, prune)
        return import_script(text, script_dir)

    return _build
