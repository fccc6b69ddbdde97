"""Spec values -> Python source text. Nothing from a spec reaches a script any other way.

`py_literal` is repr-based and refuses types it does not know; `py_docstring` builds a
triple-quoted literal that round-trips through `ast.literal_eval` whatever the text holds
(quotes, backslashes, `\"\"\"`, control characters); `py_comment` keeps a comment on one line.
"""

from __future__ import annotations

import ast
import math
from typing import Any


def py_literal(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else '-float("inf")'
        return repr(value)
    if isinstance(value, str):
        return py_string(value)
    if isinstance(value, tuple):
        inner = ", ".join(py_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Python literal for {type(value).__name__} {value!r}")


def py_string(text: str) -> str:
    """repr(text), double-quoted where that needs no extra escapes (the ruff/black style)."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        # A single-quoted repr of a text without " holds no \' escapes: swap the delimiters.
        literal = '"' + literal[1:-1] + '"'
    return literal


def _escape_text(text: str) -> str:
    out: list[str] = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\t":
            out.append(ch)
        elif not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def py_docstring(text: str) -> str:
    """A triple-quoted literal whose value is exactly `text`."""
    body = _escape_text(text)  # after this every backslash is part of an escape, none precedes "
    # Escape each quote of a run of two or more, and a quote at either end, so no run of three
    # can close the literal early or merge with the delimiters.
    out: list[str] = []
    i = 0
    while i < len(body):
        if body[i] != '"':
            out.append(body[i])
            i += 1
            continue
        j = i
        while j < len(body) and body[j] == '"':
            j += 1
        run = j - i
        out.append('\\"' * run if run >= 2 or i == 0 or j == len(body) else '"')
        i = j
    literal = '"""' + "".join(out) + '"""'
    if ast.literal_eval(literal) != text:  # pragma: no cover - a bug in the escaping above
        return repr(text)
    return literal


def py_comment(text: str) -> str:
    """Text safe to put after `#`: itself when printable on one line, else its repr."""
    return text if text.isprintable() else repr(text)
