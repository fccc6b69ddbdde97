"""Spec values -> Python source text. Nothing from a spec reaches a script any other way.

`py_literal` is repr-based and refuses types it does not know; `py_docstring` builds a
triple-quoted literal that round-trips through `ast.literal_eval` whatever the text holds
(quotes, backslashes, `\"\"\"`, control characters); `py_comment` keeps a comment on one line.
"""

from __future__ import annotations

import ast
import math
import re
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


def py_dict(value: Any, indent: int = 0, prefix: str = "", trail: int = 0, line: int = 100) -> str:
    """A dict or list literal laid out as ruff format lays it out: flat where it fits in `line`
    characters (after `indent` spaces and `prefix`, before `trail` more), else one item per line
    with a trailing comma, each item laid out the same way."""
    flat = py_literal(value)
    if not isinstance(value, (dict, list)) or not value:
        return flat
    if indent + len(prefix) + len(flat) + trail <= line:
        return flat
    inner = " " * (indent + 4)
    pairs = value.items() if isinstance(value, dict) else ((None, v) for v in value)
    items = []
    for key, item in pairs:
        head = "" if key is None else f"{py_literal(key)}: "
        items.append(f"{inner}{head}{py_dict(item, indent + 4, head, 1, line)},")
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    return opening + "\n" + "\n".join(items) + "\n" + " " * indent + closing


def _long_string(text: str, indent: int, line: int) -> str:
    """A string too long for its line as implicitly concatenated pieces in parentheses, split
    after whitespace so the pieces add up to exactly `text`."""
    pad = " " * (indent + 4)
    pieces: list[str] = []
    for word in re.findall(r"\S+\s*|\s+", text):
        if pieces and len(pad) + len(py_string(pieces[-1] + word)) <= line:
            pieces[-1] += word
        else:
            pieces.append(word)
    body = "\n".join(pad + py_string(piece) for piece in pieces)
    return "(\n" + body + "\n" + " " * indent + ")"


def py_table(value: dict, line: int = 100) -> str:
    """A nested dict literal laid out as a table (for a `# fmt: off` block): `key: value` entries
    packed several to a line; a nested mapping that does not fit where it would go starts a line of
    its own and continues on lines indented one step more, its `}` closing its last line; a long
    string is wrapped in parentheses."""
    return "{\n" + "\n".join(_packed(value, "    ", "    ", line, ",")) + "\n}"


def _packed(value: dict, head: str, pad: str, line: int, tail: str) -> list[str]:
    """The lines of `value`'s entries: the first after `head` (a pad, or a pad, key and `{`), the
    others at `pad`; `tail` follows the last entry."""
    lines: list[str] = []
    current = head
    items = list(value.items())
    for i, (key, item) in enumerate(items):
        end = tail if i == len(items) - 1 else ","
        entry, flat = f"{py_literal(key)}: ", py_literal(item)
        space = "" if current == pad or current.endswith("{") else " "
        if len(current) + len(space) + len(entry + flat + end) <= line:
            current += space + entry + flat + end
            continue
        if current != pad:
            lines.append(current)
            current = pad
        fresh = len(pad) + len(entry + flat + end) <= line
        if fresh:
            current = pad + entry + flat + end
        elif isinstance(item, dict):
            lines += _packed(item, pad + entry + "{", pad + "    ", line, "}" + end)
        elif isinstance(item, str):
            wrapped = _long_string(item, len(pad), line).split("\n")
            lines += [pad + entry + wrapped[0], *wrapped[1:-1], wrapped[-1] + end]
        else:
            current = pad + entry + flat + end  # a scalar or list longer than a line, as it is
    return lines + ([current] if current != pad else [])
