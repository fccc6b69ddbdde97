"""The spec reference in Markdown, generated from the schema's descriptions and defaults."""

from __future__ import annotations

import json

from specc.schema import deref, describe, kind_branches, load_schema


def _type(node: dict) -> str:
    node = deref(node)
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "")
    if kind == "array":
        return f"list of {_type(node.get('items', {}))}"
    return kind


def _bounds(node: dict) -> str:
    node = deref(node)
    parts = []
    for key, sym in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in node:
            parts.append(f"{sym} {node[key]}")
    if node.get("type") == "array" and "items" in node:
        inner = _bounds(node["items"])
        if inner:
            parts.append(f"each {inner}")
    return ", ".join(parts)


def _default(prop: dict) -> str:
    if "default" in prop:
        return f"`{json.dumps(prop['default'])}`"
    node = deref(prop)
    return f"`{json.dumps(node['default'])}`" if "default" in node else "optional"


def _options_table(props: dict[str, dict], required: list[str], prefix: str) -> list[str]:
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for key, prop in props.items():
        if key == "kind":
            continue
        node = deref(prop)
        kind = _type(prop)
        if node.get("type") == "object":
            kind = f"mapping, see `{prefix}{key}`"
        bounds = _bounds(prop)
        default = "required" if key in required else _default(prop)
        desc = describe(prop).replace("|", "\\|")
        rows.append(
            f"| `{key}` | {kind}{' (' + bounds + ')' if bounds else ''} | {default} | {desc} |"
        )
    return rows if len(rows) > 2 else []


def markdown() -> str:
    schema = load_schema()
    out = [
        "# Spec reference",
        "",
        "Generated from `specc/schema/spec.schema.json` by `specc schema --markdown`; do not edit.",
        "",
        describe(schema),
        "",
        "## Top level",
        "",
    ]
    out += _options_table(schema["properties"], schema.get("required", []), "")
    out.append("")
    seen: set[str] = set()

    def section(name: str, prop: dict) -> None:
        node = deref(prop)
        branches = kind_branches(node)
        if not branches and node.get("type") != "object":
            return
        if name in seen:
            return
        seen.add(name)
        out.extend([f"## `{name}`", "", describe(prop), ""])
        if not branches:
            out.extend(
                _options_table(node.get("properties", {}), node.get("required", []), name + ".")
            )
            out.append("")
            return
        default = prop.get("default")
        if default is not None:
            out.extend([f"Default: `{json.dumps(default)}`.", ""])
        nested: list[tuple[str, dict]] = []
        for kind, branch in branches.items():
            out.extend([f"### `{name}.kind: {kind}`", "", branch.get("description", ""), ""])
            rows = _options_table(
                branch.get("properties", {}), branch.get("required", []), name + "."
            )
            out.extend(rows + ([""] if rows else []))
            for key, sub in branch.get("properties", {}).items():
                if key != "kind" and deref(sub).get("type") == "object":
                    nested.append((f"{name}.{key}", sub))
        for sub_name, sub in nested:
            section(sub_name, sub)

    for key, prop in schema["properties"].items():
        section(key, prop)
    return "\n".join(out).rstrip("\n") + "\n"


def kinds_listing() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """[(section path, description, [(kind, description)])] for `specc list`."""
    schema = load_schema()
    out: list[tuple[str, str, list[tuple[str, str]]]] = []
    seen: set[str] = set()

    def visit(name: str, prop: dict) -> None:
        node = deref(prop)
        branches = kind_branches(node)
        if not branches or name in seen:
            return
        seen.add(name)
        out.append(
            (name, describe(prop), [(k, b.get("description", "")) for k, b in branches.items()])
        )
        for branch in branches.values():
            for key, sub in branch.get("properties", {}).items():
                if key != "kind":
                    visit(f"{name}.{key}", sub)

    for key, prop in schema["properties"].items():
        visit(key, prop)
    return out
