"""The spec's JSON Schema (Draft 2020-12), assembled from its pieces, and helpers to walk it.

`root.json` beside this file holds the top level and `train`; every section and every kind's
options come from `specc/components` (a section's `_section.json`, each kind's `<kind>.json`),
with the `kind` enum and the if/then branches built from the registry. Every section picks one
`kind:` through an if/then branch, every branch has `additionalProperties: false`, and every
option has a default and a description (the README's spec reference comes from those).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def load_schema() -> dict:
    from specc.components import schema_defs

    schema = json.loads(resources.files("specc").joinpath("schema", "root.json").read_text("utf-8"))
    schema["$defs"] = {**schema_defs(), **schema["$defs"]}
    return schema


def deref(node: dict, schema: dict | None = None) -> dict:
    """Follow local `$ref`s (`#/$defs/name`) until a schema without one; siblings are dropped."""
    schema = schema or load_schema()
    seen = 0
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        node = schema["$defs"][ref[len("#/$defs/") :]]
        seen += 1
        if seen > 32:
            raise ValueError("$ref loop")
    return node


def kind_branches(node: dict, schema: dict | None = None) -> dict[str, dict]:
    """For a section with `kind:` discriminators: {kind: dereferenced branch schema}, in order."""
    node = deref(node, schema)
    out: dict[str, dict] = {}
    for clause in node.get("allOf", []):
        cond = clause.get("if", {}).get("properties", {}).get("kind", {})
        if "const" in cond and "then" in clause:
            out[cond["const"]] = deref(clause["then"], schema)
    return out


def object_properties(node: dict, instance: Any, schema: dict | None = None) -> dict[str, dict]:
    """The properties allowed for `instance` under `node`: the kind branch's if there is one."""
    node = deref(node, schema)
    branches = kind_branches(node, schema)
    if branches:
        kind = instance.get("kind") if isinstance(instance, dict) else None
        branch = branches.get(kind)
        return (
            dict(branch.get("properties", {})) if branch else {"kind": node["properties"]["kind"]}
        )
    return dict(node.get("properties", {}))


def is_object_schema(node: dict, schema: dict | None = None) -> bool:
    node = deref(node, schema)
    return node.get("type") == "object"


def describe(node: dict, schema: dict | None = None) -> str:
    """The description of a property; a `$ref` sibling description wins over the target's."""
    if "description" in node:
        return node["description"]
    return deref(node, schema).get("description", "")
