"""resolve: a valid merged tree -> ResolvedSpec (defaults filled, canonical, hashed).

The resolved spec is what the generated script embeds and what its sha256 names. It is plain
data in schema order, holds exactly the chosen kinds' options, and round-trips: building the
`spec.yaml` a run writes reproduces the same script (all but the header's file name).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from specc.diagnostics import Location
from specc.load import Entry, dump_yaml
from specc.merge import Merged
from specc.schema import deref, is_object_schema, load_schema, object_properties

DEFAULT = "default"
FROM_FILE_NAME = "file name"


@dataclass(frozen=True)
class ResolvedSpec:
    data: dict
    sha256: str
    source: str  # display name of the spec file
    chain: tuple[str, ...] = ()  # the spec file, then its extends: parents
    overrides: tuple[str, ...] = ()  # the --set texts, in order
    provenance: dict = field(default_factory=dict, compare=False)  # path -> Location or DEFAULT
    source_map: dict = field(default_factory=dict, compare=False)  # path -> Entry (merged)

    def yaml(self) -> str:
        return dump_yaml(self.data)

    def get(self, dotted: str) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            node = node[part]
        return node


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def spec_sha256(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def _coerce(node: dict, value: Any) -> Any:
    """jsonschema accepts 3e5 as an integer; templates must see int 300000."""
    types = node.get("type")
    if types == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if types == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


class _Resolver:
    def __init__(self, smap: dict[tuple, Entry]):
        self.smap = smap
        self.provenance: dict[tuple, Location | str] = {}
        self.schema = load_schema()

    def origin(self, path: tuple, defaulted: bool) -> Location | str:
        if defaulted:
            return DEFAULT
        entry = self.smap.get(path)
        return entry.value if entry is not None else DEFAULT

    def walk(self, prop: dict, value: Any, path: tuple, defaulted: bool) -> Any:
        node = deref(prop, self.schema)
        self.provenance[path] = self.origin(path, defaulted)
        if is_object_schema(node, self.schema) and isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, sub in object_properties(node, value, self.schema).items():
                if key in value:
                    out[key] = self.walk(sub, value[key], path + (key,), defaulted)
                else:
                    default = sub.get("default", deref(sub, self.schema).get("default"))
                    if default is not None:
                        out[key] = self.walk(sub, copy.deepcopy(default), path + (key,), True)
            return out
        if node.get("type") == "array" and isinstance(value, list):
            items = node.get("items", {})
            return [self.walk(items, v, path + (i,), defaulted) for i, v in enumerate(value)]
        return _coerce(node, value)


def resolve(merged: Merged) -> ResolvedSpec:
    """Fill defaults and canonicalise. The tree must already have passed schema validation."""
    schema = load_schema()
    resolver = _Resolver(merged.source_map)
    tree = dict(merged.tree)
    name_from_file = "name" not in tree
    if name_from_file:
        tree["name"] = merged.root.path.stem
    data = resolver.walk(schema, tree, (), False)
    if name_from_file:
        resolver.provenance[("name",)] = FROM_FILE_NAME
    return ResolvedSpec(
        data=data,
        sha256=spec_sha256(data),
        source=merged.root.display,
        chain=tuple(merged.chain),
        overrides=tuple(o.text for o in merged.overrides),
        provenance=resolver.provenance,
        source_map=merged.source_map,
    )
