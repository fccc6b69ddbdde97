"""`specc explain`: the resolved spec with each value's origin (default, file:line:col, --set)."""

from __future__ import annotations

from typing import Any

from specc.diagnostics import Location
from specc.load import dump_yaml
from specc.resolve import ResolvedSpec

COLUMN = 44


def _scalar(value: Any) -> str:
    text = dump_yaml({"v": value})
    return text[len("v: ") :].rstrip("\n")


def _origin(resolved: ResolvedSpec, path: tuple) -> str:
    origin = resolved.provenance.get(path)
    if isinstance(origin, Location):
        return str(origin)
    return str(origin or "default")


def explain(resolved: ResolvedSpec) -> str:
    lines = [f"# {resolved.source}: resolved spec, sha256 {resolved.sha256}"]
    if len(resolved.chain) > 1:
        lines.append("# extends: " + " -> ".join(resolved.chain))
    for text in resolved.overrides:
        lines.append(f"# --set {text}")

    def line(text: str, path: tuple) -> str:
        pad = max(COLUMN - len(text), 2)
        return text + " " * pad + f"# {_origin(resolved, path)}"

    def walk(value: dict, path: tuple, indent: int) -> None:
        for key, v in value.items():
            pad = "  " * indent
            if isinstance(v, dict):
                lines.append(line(f"{pad}{key}:", path + (key,)))
                walk(v, path + (key,), indent + 1)
            else:
                text = f"{pad}{key}: {_scalar(v)}"
                if "\n" in text:
                    text = f"{pad}{key}: {v!r}"
                lines.append(line(text, path + (key,)))

    walk(resolved.data, (), 0)
    return "\n".join(lines) + "\n"
