"""Spec values reach scripts only as literals that evaluate back to themselves."""

from __future__ import annotations

import ast
import math

from hypothesis import given
from hypothesis import strategies as st

from specc.literals import py_comment, py_docstring, py_literal

HOSTILE = [
    '"""',
    "'''",
    '"',
    "\\",
    'x"',
    '"x',
    '""""',
    "a\nb",
    "\r\n",
    "\x00",
    "\u2028\u2029\x85",
    '"""\nimport os; os.system("echo pwned")\n"""',
    "'); import os; os.system('echo pwned'); ('",
    "{{ config }} {% if %}",
    "\ud800",
    "end\\",
    "tab\there",
]


@given(st.text())
def test_docstring_round_trips_any_text(text):
    assert ast.literal_eval(py_docstring(text)) == text


@given(st.text())
def test_string_literal_round_trips(text):
    assert ast.literal_eval(py_literal(text)) == text


def test_hostile_strings():
    for text in HOSTILE:
        assert ast.literal_eval(py_docstring(text)) == text
        assert ast.literal_eval(py_literal(text)) == text
        comment = py_comment(text)
        assert "\n" not in comment and "\r" not in comment


def test_floats_and_containers():
    assert py_literal(float("inf")) == 'float("inf")'
    assert py_literal(-math.inf) == '-float("inf")'
    assert py_literal(1e-8) == "1e-08"
    assert py_literal((0.9, 0.999)) == "(0.9, 0.999)"
    assert py_literal((1,)) == "(1,)"
    assert ast.literal_eval(py_literal({"a": [1, None, True]})) == {"a": [1, None, True]}
    assert py_literal("plain") == '"plain"'


def test_unknown_types_are_refused():
    import pytest

    with pytest.raises(TypeError):
        py_literal(object())
