"""validate: merged tree -> every diagnostic the JSON Schema finds, with positions.

jsonschema reports an unknown key at its parent (`$.model`); this module rewrites such errors to
the offending key's own path and line and adds a did-you-mean from the allowed names. Cross-field
checks that need defaults filled in live in `checks.py` and run after `resolve`.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

import jsonschema

from specc.diagnostics import Diagnostic, Location, json_path
from specc.load import Entry
from specc.merge import SUPPORTED_VERSIONS, Merged
from specc.schema import load_schema


def _short(value: Any, limit: int = 60) -> str:
    """A value as the spec writes it: strings quoted, null/true/false, flow lists and mappings."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


TYPE_NAMES = {
    "array": "list",
    "object": "mapping",
    "integer": "integer",
    "number": "number",
    "string": "string",
    "boolean": "boolean",
    "null": "null",
}


def did_you_mean(word: Any, choices: list[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def locate(source_map: dict[tuple, Entry], path: tuple, *, key: bool = False) -> Location | None:
    """Position of `path`'s key (key=True) or value; the nearest ancestor if it has none."""
    probe = path
    while True:
        entry = source_map.get(probe)
        if entry is not None:
            if key and probe == path and entry.key is not None:
                return entry.key
            if probe != path and entry.key is not None:
                return entry.key  # a missing child: point at its parent's key
            return entry.value
        if not probe:
            return None
        probe = probe[:-1]


def _kind_context(instance: Any) -> str:
    if isinstance(instance, dict) and isinstance(instance.get("kind"), str):
        return f" for kind {instance['kind']!r}"
    return ""


def _convert(error: jsonschema.ValidationError, smap: dict[tuple, Entry]) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    instance = error.instance
    v = error.validator
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        out = []
        for key in sorted(k for k in instance if k not in allowed):
            section = "unknown section" if not path else f"unknown key{_kind_context(instance)}"
            msg = section + did_you_mean(key, allowed)
            if not did_you_mean(key, allowed) and allowed:
                msg += f" (allowed: {', '.join(allowed)})"
            out.append(
                Diagnostic(json_path(path + (key,)), msg, locate(smap, path + (key,), key=True))
            )
        return out
    if v == "required":
        out = []
        for key in error.validator_value:
            if isinstance(instance, dict) and key not in instance:
                extra = ""
                if key == "kind":
                    kinds = error.schema.get("properties", {}).get("kind", {}).get("enum", [])
                    extra = f" (one of: {', '.join(map(repr, kinds))})" if kinds else ""
                out.append(
                    Diagnostic(
                        json_path(path + (key,)),
                        f"missing required key {key!r}{extra}",
                        locate(smap, path),
                    )
                )
        return out
    if v == "enum":
        choices = error.validator_value
        msg = f"{_short(instance)} is not one of {', '.join(map(repr, choices))}"
        msg += did_you_mean(instance, [c for c in choices if isinstance(c, str)])
        return [Diagnostic(json_path(path), msg, locate(smap, path))]
    if v == "const":
        if path == ("version",):
            msg = (
                f"{_short(instance)} is not a supported version "
                f"(supported: {', '.join(map(str, SUPPORTED_VERSIONS))})"
            )
        else:
            msg = f"must be {error.validator_value!r}, not {_short(instance)}"
        return [Diagnostic(json_path(path), msg, locate(smap, path))]
    if v == "pattern" and path == ("name",):
        msg = (
            f"{_short(instance)} is not a valid name: use 1-64 letters, digits and '_', "
            "not starting with a digit (it becomes a file and module name)"
        )
        return [Diagnostic(json_path(path), msg, locate(smap, path))]
    if v == "type":
        expected = error.validator_value
        names = [
            TYPE_NAMES.get(e, e) for e in (expected if isinstance(expected, list) else [expected])
        ]
        expected = " or ".join(names)
        article = "an" if str(expected)[:1] in "aeiou" else "a"
        msg = f"{_short(instance)} is not {article} {expected}"
        if expected == "boolean" and isinstance(instance, str):
            msg += " (write true or false)"
        return [Diagnostic(json_path(path), msg, locate(smap, path))]
    if v in ("minItems", "maxItems"):
        n = error.validator_value
        word = "at least" if v == "minItems" else "at most"
        msg = f"{_short(instance)} must have {word} {n} item{'s' if n != 1 else ''}"
        return [Diagnostic(json_path(path), msg, locate(smap, path))]
    if v == "exclusiveMinimum":
        msg = f"{_short(instance)} must be greater than {error.validator_value}"
        return [Diagnostic(json_path(path), msg, locate(smap, path))]
    if v == "exclusiveMaximum":
        msg = f"{_short(instance)} must be less than {error.validator_value}"
        return [Diagnostic(json_path(path), msg, locate(smap, path))]
    if v in ("minimum", "maximum"):
        word = "less" if v == "minimum" else "greater"
        msg = f"{_short(instance)} is {word} than the {v} of {error.validator_value}"
        return [Diagnostic(json_path(path), msg, locate(smap, path))]
    return [Diagnostic(json_path(path), error.message, locate(smap, path))]


def validate_tree(tree: Any, source_map: dict[tuple, Entry]) -> list[Diagnostic]:
    """All schema diagnostics for a merged tree (unsorted)."""
    validator = jsonschema.Draft202012Validator(load_schema())
    out: list[Diagnostic] = []
    for error in validator.iter_errors(tree):
        out.extend(_convert(error, source_map))
    return out


def validate_merged(merged: Merged) -> list[Diagnostic]:
    """Merge diagnostics plus schema diagnostics, minus schema noise about values that could not
    be read at all (a refused tag becomes null; saying it is not a mapping adds nothing)."""
    unreadable = {d.path for d in merged.diagnostics if "cannot read" in d.message}
    schema = [
        d
        for d in validate_tree(merged.tree, merged.source_map)
        if not any(
            d.path == p or d.path.startswith(p + ".") or d.path.startswith(p + "[")
            for p in unreadable
        )
    ]
    return list(merged.diagnostics) + schema
