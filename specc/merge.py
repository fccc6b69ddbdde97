"""merge: a spec file, its `extends:` chain and `--set` overrides -> one tree + provenance.

Rules (also in the README):
- `extends:` names one parent, relative to the file that says it; chains are allowed, cycles are
  an error that names the chain. Precedence: parent < file < `--set` (in the order given).
- Mappings deep-merge and lists replace. A mapping whose `kind` differs from the one it overrides
  replaces it whole: the options of the old kind never leak into the new one.
- `--set a.b=value` splits on the first `=`; the value is read with the spec loader, so
  `--set train.lr=1e-4` is a float and `--set train.betas=[0.9,0.99]` a list. Unknown paths are
  caught by validation (with a did-you-mean), never added silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specc.diagnostics import Diagnostic, Location, json_path
from specc.load import Entry, LoadedFile, load_file, parse_scalar

SUPPORTED_VERSIONS = (1,)


@dataclass(frozen=True)
class Override:
    """One `--set KEY.PATH=VALUE`, already parsed."""

    text: str
    index: int
    path: tuple[str, ...]
    value: Any

    @property
    def location(self) -> Location:
        return Location(f"--set {self.text}", 0, 0, self.index)


@dataclass
class Merged:
    tree: dict
    source_map: dict[tuple, Entry]
    diagnostics: list[Diagnostic]
    root: LoadedFile
    chain: list[str] = field(default_factory=list)  # display names, the spec file first
    overrides: list[Override] = field(default_factory=list)
    fatal: bool = False  # unreadable YAML or a broken extends chain: skip schema validation


def parse_override(text: str, index: int) -> Override | Diagnostic:
    where = Location(f"--set {text}", 0, 0, index)
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        return Diagnostic("$", "expected KEY.PATH=VALUE, e.g. --set train.lr=1e-4", where)
    parts = tuple(key.split("."))
    if any(not p for p in parts):
        return Diagnostic("$", f"malformed key path {key!r}", where)
    if parts[0] in ("version", "extends"):
        return Diagnostic(json_path(parts), f"{parts[0]!r} cannot be overridden", where)
    try:
        value = parse_scalar(raw)
    except ValueError as exc:
        return Diagnostic(json_path(parts), f"cannot read value {raw!r}: {exc}", where)
    return Override(text, index, parts, value)


def _copy_entries(src: dict[tuple, Entry], prefix: tuple, dst: dict[tuple, Entry]) -> None:
    n = len(prefix)
    for p, e in src.items():
        if p[:n] == prefix:
            dst[p] = e


def _kind_changes(base: Any, top: Any) -> bool:
    return (
        isinstance(base, dict)
        and isinstance(top, dict)
        and "kind" in base
        and "kind" in top
        and base["kind"] != top["kind"]
    )


def _merge(base: Any, base_map: dict, top: Any, top_map: dict, path: tuple, out_map: dict) -> Any:
    if isinstance(base, dict) and isinstance(top, dict) and not _kind_changes(base, top):
        # A mapping present in both layers keeps the position of the file that names it last; an
        # override never becomes the position of a whole mapping the files already have.
        top_entry, base_entry = top_map.get(path), base_map.get(path)
        if base_entry is not None and (top_entry is None or top_entry.value.override >= 0):
            out_map[path] = base_entry
        elif top_entry is not None:
            out_map[path] = top_entry
        result: dict[str, Any] = {}
        for key, value in base.items():
            if key not in top:
                result[key] = value
                _copy_entries(base_map, path + (key,), out_map)
        for key, value in top.items():
            if key in base:
                result[key] = _merge(base[key], base_map, value, top_map, path + (key,), out_map)
            else:
                result[key] = value
                _copy_entries(top_map, path + (key,), out_map)
        return result
    _copy_entries(top_map, path, out_map)
    return top


def _version_check(lf: LoadedFile) -> list[Diagnostic]:
    """Parents are checked here; the spec file's own version is checked by the schema."""
    tree = lf.tree if isinstance(lf.tree, dict) else {}
    if "version" not in tree:
        return [
            Diagnostic(
                "$.version",
                "missing required key 'version' (use version: 1)",
                Location(lf.display, 1, 1),
            )
        ]
    if tree["version"] not in SUPPORTED_VERSIONS or isinstance(tree["version"], bool):
        entry = lf.source_map.get(("version",))
        loc = entry.value if entry else Location(lf.display, 1, 1)
        return [
            Diagnostic(
                "$.version",
                f"{tree['version']!r} is not a supported version "
                f"(supported: {', '.join(map(str, SUPPORTED_VERSIONS))})",
                loc,
            )
        ]
    return []


def _load_chain(path: Path) -> tuple[list[LoadedFile], list[Diagnostic], bool]:
    files: list[LoadedFile] = []
    diags: list[Diagnostic] = []
    fatal = False
    seen: list[Path] = []
    current = path
    while True:
        lf = load_file(current)
        files.append(lf)
        diags.extend(lf.diagnostics)
        seen.append(current.resolve())
        if lf.tree is None:
            fatal = True
            break
        if len(files) > 1:
            diags.extend(_version_check(lf))
        tree = lf.tree if isinstance(lf.tree, dict) else {}
        if "extends" not in tree:
            break
        parent_ref = tree["extends"]
        entry = lf.source_map.get(("extends",))
        loc = entry.value if entry else Location(lf.display)
        if not isinstance(parent_ref, str) or not parent_ref.strip():
            diags.append(
                Diagnostic("$.extends", "must be the relative path of one parent spec", loc)
            )
            fatal = True
            break
        parent = (current.parent / parent_ref).resolve()
        if parent in seen:
            names = [f.display for f in files] + [files[seen.index(parent)].display]
            diags.append(Diagnostic("$.extends", "extends cycle: " + " -> ".join(names), loc))
            fatal = True
            break
        if not parent.is_file():
            diags.append(
                Diagnostic(
                    "$.extends",
                    f"parent spec {parent_ref!r} not found (paths are relative to {lf.display})",
                    loc,
                )
            )
            fatal = True
            break
        current = parent
    return files, diags, fatal


def merge_spec(path: Path, sets: Sequence[str] = ()) -> Merged:
    """Load `path`, follow `extends:`, apply `--set` overrides. Never raises for bad input."""
    files, diags, fatal = _load_chain(path)
    tree: Any = {}
    smap: dict[tuple, Entry] = {}
    for lf in reversed(files):  # the farthest parent first
        layer = dict(lf.tree) if isinstance(lf.tree, dict) else {}
        layer.pop("extends", None)
        layer_map = {p: e for p, e in lf.source_map.items() if p[:1] != ("extends",)}
        new_map: dict[tuple, Entry] = {}
        tree = _merge(tree, smap, layer, layer_map, (), new_map)
        smap = new_map

    overrides: list[Override] = []
    for i, text in enumerate(sets):
        parsed = parse_override(text, i)
        if isinstance(parsed, Diagnostic):
            diags.append(parsed)
            continue
        overrides.append(parsed)
        layer: Any = parsed.value
        for part in reversed(parsed.path):
            layer = {part: layer}
        layer_map = {}
        for depth in range(1, len(parsed.path) + 1):
            layer_map[parsed.path[:depth]] = Entry(parsed.location, parsed.location)
        _mark_override_leaves(parsed.value, parsed.path, parsed.location, layer_map)
        new_map = {}
        tree = _merge(tree, smap, layer, layer_map, (), new_map)
        smap = new_map
    return Merged(
        tree=tree,
        source_map=smap,
        diagnostics=diags,
        root=files[0],
        chain=[f.display for f in files],
        overrides=overrides,
        fatal=fatal,
    )


def _mark_override_leaves(value: Any, path: tuple, loc: Location, out: dict) -> None:
    out[path] = Entry(loc, loc)
    if isinstance(value, dict):
        for k, v in value.items():
            _mark_override_leaves(v, path + (k,), loc, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _mark_override_leaves(v, path + (i,), loc, out)
