"""merge: extends chains, deep merge, kind changes, --set parsing and provenance."""

from __future__ import annotations

from pathlib import Path

from specc.merge import merge_spec, parse_override


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_extends_deep_merges_mappings_and_replaces_lists(tmp_path: Path):
    write(
        tmp_path / "base" / "b.yaml",
        "version: 1\ntrain: {steps: 10, lr: 0.1, betas: [0.9, 0.99]}\n"
        "model: {kind: mlp, depth: 2}\n",
    )
    child = write(
        tmp_path / "c.yaml",
        "version: 1\nextends: base/b.yaml\ntrain: {lr: 0.2, betas: [0.5, 0.6]}\n",
    )
    merged = merge_spec(child)
    assert not merged.diagnostics
    assert merged.tree["train"] == {"steps": 10, "lr": 0.2, "betas": [0.5, 0.6]}
    assert merged.tree["model"] == {"kind": "mlp", "depth": 2}
    assert "extends" not in merged.tree
    assert merged.source_map[("train", "steps")].value.file.endswith("base/b.yaml")
    assert merged.source_map[("train", "lr")].value.file.endswith("c.yaml")


def test_a_changed_kind_replaces_the_section(tmp_path: Path):
    write(tmp_path / "b.yaml", "version: 1\nmodel: {kind: mlp, depth: 2, hidden: 8}\n")
    child = write(tmp_path / "c.yaml", "version: 1\nextends: b.yaml\nmodel: {kind: other}\n")
    assert merge_spec(child).tree["model"] == {"kind": "other"}


def test_extends_cycle_names_the_chain(tmp_path: Path):
    write(tmp_path / "a.yaml", "version: 1\nextends: b.yaml\n")
    write(tmp_path / "b.yaml", "version: 1\nextends: a.yaml\n")
    merged = merge_spec(tmp_path / "a.yaml")
    assert merged.fatal
    assert "extends cycle:" in merged.diagnostics[0].message
    assert merged.diagnostics[0].message.count("->") == 2


def test_parent_without_version_is_an_error(tmp_path: Path):
    write(tmp_path / "b.yaml", "train: {}\n")
    child = write(tmp_path / "c.yaml", "version: 1\nextends: b.yaml\n")
    assert "missing required key 'version'" in merge_spec(child).diagnostics[0].message


def test_set_splits_on_first_equals_and_parses_like_yaml(tmp_path: Path):
    spec = write(tmp_path / "s.yaml", "version: 1\ntrain: {lr: 0.1}\n")
    merged = merge_spec(spec, ["train.lr=1e-4", "description=a=b", "train.betas=[0.8,0.9]"])
    assert merged.tree["train"] == {"lr": 1e-4, "betas": [0.8, 0.9]}
    assert merged.tree["description"] == "a=b"
    assert str(merged.source_map[("train", "lr")].value) == "--set train.lr=1e-4"
    # the mapping keeps its file position
    assert merged.source_map[("train",)].value.file.endswith("s.yaml")


def test_set_that_changes_kind_drops_the_old_kinds_options(tmp_path: Path):
    spec = write(tmp_path / "s.yaml", "version: 1\nmodel: {kind: mlp, depth: 2}\n")
    assert merge_spec(spec, ["model.kind=other"]).tree["model"] == {"kind": "other"}


def test_bad_overrides():
    assert "expected KEY.PATH=VALUE" in parse_override("train.lr", 0).message
    assert "malformed key path" in parse_override("train..lr=1", 0).message
    assert "cannot be overridden" in parse_override("version=2", 0).message
