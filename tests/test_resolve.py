"""validate + resolve: defaults, canonical form, hash, provenance, embedded-spec round trip."""

from __future__ import annotations

from pathlib import Path

from specc.load import load_text
from specc.pipeline import build_spec, check_spec
from specc.resolve import DEFAULT, spec_sha256

MINIMAL = "version: 1\ndata: {kind: toy2d, distribution: moons}\nmodel: {kind: mlp}\n"


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_fill_every_section(tmp_path: Path):
    result = check_spec(write(tmp_path, MINIMAL, "my_spec.yaml"))
    assert result.ok, result.diagnostics
    data = result.resolved.data
    assert list(data) == [
        "version",
        "name",
        "description",
        "seed",
        "data",
        "model",
        "path",
        "coupling",
        "loss",
        "weighting",
        "sampler",
        "train",
        "eval",
    ]
    assert data["name"] == "my_spec"  # from the file name
    assert data["path"] == {"kind": "rectified", "sigma_min": 0.0}
    assert data["loss"]["prediction"] == {"kind": "velocity"}
    assert data["weighting"]["time_sampling"] == {"kind": "uniform", "shift": 1.0}
    assert data["sampler"]["grid"] == {"kind": "uniform"}
    assert data["train"]["betas"] == [0.9, 0.999]
    assert result.resolved.provenance[("train", "lr")] == DEFAULT


def test_integers_written_as_floats_become_ints(tmp_path: Path):
    result = check_spec(write(tmp_path, MINIMAL + "train: {steps: 3e3, lr: 1}\n"))
    assert result.resolved.data["train"]["steps"] == 3000
    assert isinstance(result.resolved.data["train"]["steps"], int)
    assert isinstance(result.resolved.data["train"]["lr"], float)


def test_hash_ignores_key_order_and_formatting(tmp_path: Path):
    a = check_spec(write(tmp_path, MINIMAL + "train: {lr: 0.001, steps: 10}\n", "a.yaml"))
    b_text = (
        "model:\n  kind: mlp\nversion: 1\ntrain:\n  steps: 10\n  lr: 1e-3\n"
        "data: {distribution: moons, kind: toy2d}\nname: a\n"
    )
    b = check_spec(write(tmp_path, b_text, "b.yaml"))
    assert a.resolved.sha256 == b.resolved.sha256 == spec_sha256(a.resolved.data)
    assert build_spec(tmp_path / "a.yaml").text == build_spec(tmp_path / "b.yaml").text.replace(
        "b.yaml", "a.yaml"
    )


def test_embedded_spec_round_trips(tmp_path: Path):
    first = build_spec(write(tmp_path, MINIMAL + "description: 'x: \"y\"'\n", "one.yaml"))
    embedded = first.resolved.yaml()
    assert load_text(embedded, "e").tree == first.resolved.data
    again = build_spec(write(tmp_path, embedded, "two.yaml"))
    assert again.resolved.sha256 == first.resolved.sha256
    # only the header naming the source file differs
    diff = [
        (a, b)
        for a, b in zip(first.text.splitlines(), again.text.splitlines(), strict=True)
        if a != b
    ]
    assert all("one.yaml" in a and "two.yaml" in b for a, b in diff) and len(diff) == 2


def test_provenance_names_file_line_and_set(tmp_path: Path):
    result = check_spec(write(tmp_path, MINIMAL + "train:\n  lr: 0.01\n"), ["train.steps=7"])
    prov = result.resolved.provenance
    assert str(prov[("train", "lr")]).endswith("spec.yaml:5:7")
    assert str(prov[("train", "steps")]) == "--set train.steps=7"
    assert prov[("train", "batch_size")] == DEFAULT


def test_derived_name_from_a_bad_file_name_is_an_error(tmp_path: Path):
    result = check_spec(write(tmp_path, MINIMAL, "2-bad name.yaml"))
    assert not result.ok
    assert "(from the file name) is not a valid name" in result.diagnostics[0].message
