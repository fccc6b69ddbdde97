"""prune: drop what the rendered script cannot reach, so every top-level name earns its place.

Partials define the functions their section offers (a path's log-SNR, a prediction's data view,
the scalar coefficients a sampler may use); which of them a given script calls depends on the other
sections chosen. Rather than mirror those uses in flags, the renderer keeps exactly the top-level
statements reachable from `main()` and the `__main__` guard, and the import names they use. A
statement's leading comments and decorators go with it.
"""

from __future__ import annotations

import ast
import re

ROOTS = frozenset({"main"})
_BLANKS = re.compile(r"\n{4,}")


def _defined(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return set()


def _used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def reachable(tree: ast.Module, roots: frozenset[str] = ROOTS) -> set[str]:
    """Top-level names reachable from `roots` and from statements that define no name."""
    defs: dict[str, list[ast.stmt]] = {}
    todo: list[str] = list(roots)
    for node in tree.body:
        names = _defined(node)
        for name in names:
            defs.setdefault(name, []).append(node)
        if not names and not isinstance(node, (ast.Import, ast.ImportFrom)):
            todo.extend(_used(node))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        for node in defs[name]:
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                todo.extend(_used(node))
    return seen


def _start(node: ast.stmt, lines: list[str]) -> int:
    """0-based first line of a statement with its decorators and the comments just above it."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
    while (
        first > 0 and lines[first - 1].startswith("# ") and not lines[first - 1].startswith("# ---")
    ):
        first -= 1
    return first


def _import_line(node: ast.stmt, keep: list[ast.alias]) -> str:
    names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in keep)
    if isinstance(node, ast.ImportFrom):
        return f"from {'.' * node.level}{node.module or ''} import {names}"
    return f"import {names}"


def prune(text: str) -> str:
    """The script without unreachable top-level statements and unused imported names."""
    while True:
        tree = ast.parse(text)
        lines = text.split("\n")
        live = reachable(tree)
        edits: list[tuple[int, int, list[str]]] = []  # (first, last + 1, replacement lines)
        for node in tree.body:
            names = _defined(node)
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                keep = [a for a in node.names if (a.asname or a.name).split(".")[0] in live]
                if len(keep) < len(node.names):
                    line = [_import_line(node, keep)] if keep else []
                    edits.append((node.lineno - 1, node.end_lineno, line))
            elif names and not names & live:
                edits.append((_start(node, lines), node.end_lineno, []))
        if not edits:
            return text
        for first, stop, replacement in reversed(edits):
            lines[first:stop] = replacement
        text = _BLANKS.sub("\n\n\n", "\n".join(lines))
