"""render: Plan -> script text. Touches no disk besides reading templates.

Jinja2 runs with StrictUndefined (a missing value is a bug, never an empty string), trim_blocks
and lstrip_blocks (tags may be indented like the code around them) and no autoescape (this is
Python, not HTML). The text is then pruned to what `main()` reaches, its long prose lines are
wrapped, and it must compile; a render failure is a specc bug, because the spec was fully
validated and resolved before it got here.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from functools import lru_cache
from pathlib import Path

import jinja2

from specc.literals import py_comment, py_docstring, py_literal
from specc.plan import LINE, NEEDS, Plan
from specc.prune import prune

# The pip package of each optional module a script may import (torch is always needed).
PACKAGES = {
    "numpy": "numpy",
    "ot": "POT",
    "PIL": "Pillow",
    "scipy": "scipy",
    "sklearn": "scikit-learn",
    "torchmetrics": "torchmetrics",
    "torch_fidelity": "torch-fidelity",
}


def template_root() -> Path:
    """The specc package directory: components/ and script/ hold the templates."""
    return Path(__file__).resolve().parent


def banner(title: str) -> str:
    """`# ----...---- Title`, always LINE characters wide."""
    return "# " + "-" * (LINE - 3 - len(title)) + " " + title


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_root())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["py"] = py_literal
    env.filters["docstring"] = py_docstring
    env.filters["comment"] = py_comment
    env.globals["banner"] = banner
    return env


_BLANKS = re.compile(r"\n{4,}")
_AFTER_BANNER = re.compile(r"^(# -{10,} \w+)\n\n+", re.MULTILINE)


def normalise(text: str) -> str:
    """Strip trailing spaces, keep at most two blank lines in a row, none right after a section
    banner, end with one newline."""
    text = "\n".join(line.rstrip() for line in text.splitlines())
    text = _BLANKS.sub("\n\n\n", text)
    text = _AFTER_BANNER.sub(r"\1\n", text)
    return text.strip("\n") + "\n"


def _wrap(text: str, first: str, rest: str) -> list[str]:
    return textwrap.wrap(
        text,
        LINE,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def reflow_docstring(lines: list[str]) -> list[str]:
    """A docstring's lines (the first opens it, the last closes it) with each prose paragraph
    re-wrapped to LINE (the closing quotes counted in); a paragraph with a line indented deeper
    than the docstring (a formula, a list) keeps its layout."""
    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
    body = [lines[0].lstrip()[3:]] + [ln[len(indent) :] for ln in lines[1:]]
    body[-1] = body[-1][:-3]
    closing_alone = not body[-1].strip()
    paragraphs: list[list[str]] = [[]]
    for line in body:
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    paragraphs = [p for p in paragraphs if p]
    out: list[str] = []
    for n, paragraph in enumerate(paragraphs):
        lead = indent + ('"""' if n == 0 else "")
        if out:
            out.append("")
        last = n == len(paragraphs) - 1 and not closing_alone
        if any(ln.startswith(" ") for ln in (paragraph if n else paragraph[1:])):
            out += [lead + paragraph[0]] + [indent + ln for ln in paragraph[1:]]
            if last:
                out[-1] += '"""'
        else:
            text = " ".join(ln.strip() for ln in paragraph) + ('"""' if last else "")
            out += _wrap(text, lead, indent)
    return out + ([indent + '"""'] if closing_alone else [])


def wrap_prose(text: str) -> str:
    """Wrap comments and docstrings with lines longer than LINE (code lines are left alone:
    templates keep them short): a comment continues as a comment, a docstring's prose paragraphs
    are re-flowed. The header comments are never touched."""
    lines = text.split("\n")
    header = next(i for i, line in enumerate(lines) if not line.startswith("# "))
    docstrings = [
        (tok.start[0] - 1, tok.end[0])
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
        if tok.type == tokenize.STRING and tok.string.startswith('"""') and tok.start[0] > header
    ]
    for start, end in reversed(docstrings):
        if any(len(line) > LINE for line in lines[start:end]):
            lines[start:end] = reflow_docstring(lines[start:end])
    out: list[str] = []
    i = 0
    while i < len(lines):
        prefix = lines[i][: len(lines[i]) - len(lines[i].lstrip())] + "# "
        block = i
        while block < len(lines) and lines[block].startswith(prefix) and i >= header:
            block += 1  # a run of comment lines at one indent: one paragraph
        comments = lines[i:block]
        if any(len(c) > LINE for c in comments) and not any(
            c[len(prefix) :].startswith((" ", "-")) for c in comments
        ):
            out += _wrap(" ".join(c[len(prefix) :] for c in comments), prefix, prefix)
            i = block
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


def packages_line(text: str) -> str:
    """`Needs: torch, ... (pip install ...).` for the modules the script imports anywhere."""
    modules = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            modules.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    needed = sorted({PACKAGES[m] for m in modules if m in PACKAGES}, key=str.lower)
    return f"Needs: {', '.join(['torch', *needed])} (pip install {' '.join([*needed, 'torch'])})."


class RenderError(RuntimeError):
    """A template produced invalid Python or referenced something missing: a bug in specc."""


def render(plan: Plan, prune_unused: bool = True) -> str:
    """The script text; prune_unused=False keeps every top-level name the partials define (for
    tests of helpers that only some specs reach)."""
    try:
        text = environment().get_template("script/script.py.j2").render(**plan.context)
    except jinja2.TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc
    try:
        text = normalise(text)
        text = prune(text) if prune_unused else text
    except SyntaxError as exc:
        raise RenderError(f"generated code does not compile: {exc}") from exc
    # the docstring's line that stands for the package list, escaped as py_docstring writes it
    placeholder = py_docstring(NEEDS)[3:-3]
    lines = [packages_line(text) if line == placeholder else line for line in text.split("\n")]
    text = normalise(wrap_prose("\n".join(lines)))
    try:
        compile(text, plan.script_label, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise RenderError(f"generated code does not compile: {exc}") from exc
    return text
