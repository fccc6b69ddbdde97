"""render: Plan -> script text. Touches no disk besides reading templates.

Jinja2 runs with StrictUndefined (a missing value is a bug, never an empty string), trim_blocks
and lstrip_blocks (tags may be indented like the code around them) and no autoescape (this is
Python, not HTML). The text is normalised and must compile; a render failure is a specc bug,
because the spec was fully validated and resolved before it got here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jinja2

from specc.literals import py_comment, py_docstring, py_literal
from specc.plan import LINE, Plan


def template_root() -> Path:
    """specc/templates inside an installed wheel, else the repository's top-level templates/."""
    packaged = resources.files("specc").joinpath("templates")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "templates"


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


def normalise(text: str) -> str:
    """Strip trailing spaces, keep at most two blank lines in a row, end with one newline."""
    text = "\n".join(line.rstrip() for line in text.splitlines())
    text = _BLANKS.sub("\n\n\n", text)
    return text.strip("\n") + "\n"


class RenderError(RuntimeError):
    """A template produced invalid Python or referenced something missing: a bug in specc."""


def render(plan: Plan) -> str:
    try:
        text = environment().get_template("script.py.j2").render(**plan.context)
    except jinja2.TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc
    text = normalise(text)
    try:
        compile(text, plan.script_label, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise RenderError(f"generated code does not compile: {exc}") from exc
    return text
