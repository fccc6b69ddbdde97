"""load: YAML 1.2 scalars, positions for every key and value, duplicate keys as diagnostics."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from specc.load import dump_yaml, load_text, parse_scalar


def test_yaml12_scalars():
    tree = load_text(
        "a: 1e-4\nb: 3e5\nc: 1.0e4\nd: yes\ne: off\nf: 2024-01-01\ng: 012\nh: .inf\n"
        "i: -.inf\nj: true\nk: False\nl: ~\nm: 0x10\nn: 1_000\n",
        "x.yaml",
    ).tree
    assert tree["a"] == 1e-4 and isinstance(tree["a"], float)
    assert tree["b"] == 3e5 and isinstance(tree["b"], float)
    assert tree["c"] == 1e4
    assert tree["d"] == "yes" and tree["e"] == "off"  # only true/false are booleans
    assert tree["f"] == "2024-01-01"  # no timestamps
    assert tree["g"] == 12  # YAML 1.2: no octal from a leading zero
    assert tree["h"] == math.inf and tree["i"] == -math.inf
    assert tree["j"] is True and tree["k"] is False and tree["l"] is None
    assert tree["m"] == "0x10" and tree["n"] == "1_000"  # not integers in the 1.2 core schema


def test_positions_of_keys_and_values():
    lf = load_text("version: 1\ntrain:\n  lr: 0.1\n  betas: [0.9, 0.99]\n", "s.yaml")
    entry = lf.source_map[("train", "lr")]
    assert (entry.key.line, entry.key.column) == (3, 3)
    assert (entry.value.line, entry.value.column) == (3, 7)
    item = lf.source_map[("train", "betas", 1)]
    assert item.key is None and (item.value.line, item.value.column) == (4, 16)


def test_duplicate_keys_are_diagnostics_naming_both_lines():
    lf = load_text("version: 1\ntrain:\n  lr: 1\n  lr: 2\ntrain: {}\n", "s.yaml")
    messages = sorted(d.format() for d in lf.diagnostics)
    assert messages == [
        "s.yaml:4:3: $.train.lr: duplicate key 'lr' (first at line 3)",
        "s.yaml:5:1: $.train: duplicate key 'train' (first at line 2)",
    ]
    assert lf.tree["train"]["lr"] == 1  # the first one is kept


def test_syntax_error_has_position():
    lf = load_text("version: 1\ntrain: [1, 2\n", "s.yaml")
    assert lf.tree is None
    assert lf.diagnostics[0].location.line >= 2
    assert "invalid YAML" in lf.diagnostics[0].message


def test_unsafe_tags_are_refused():
    lf = load_text("a: !!python/object/apply:os.system ['echo hi']\n", "s.yaml")
    assert lf.diagnostics and "cannot read this value" in lf.diagnostics[0].message


def test_top_level_must_be_a_mapping():
    lf = load_text("- 1\n- 2\n", "s.yaml")
    assert lf.diagnostics[0].message == "a spec must be a mapping of sections"


def test_parse_scalar_reads_like_the_file():
    assert parse_scalar("1e-4") == 1e-4
    assert parse_scalar("[0.9,0.99]") == [0.9, 0.99]
    assert parse_scalar("yes") == "yes"
    assert parse_scalar("a=b") == "a=b"
    assert parse_scalar("") == ""


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["yes", "no", "on", "1e5", "012", "2024-01-01", ".inf", "~", "null", "true"]),
)
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(min_size=1, max_size=8), trees, max_size=5))
def test_dump_then_load_round_trips(tree):
    assert load_text(dump_yaml(tree), "x.yaml").tree == tree


# Hostile files: the work one spec can cause is bounded, and every unreadable byte has a position.


def test_alias_expansion_is_bounded_and_fast():
    """Ten aliases of ten aliases of ... ("billion laughs") would build 10^9 values: it stops at
    MAX_VALUES with a positioned diagnostic, in well under a second."""
    import time

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]" for k in range(1, 9)]
    start = time.perf_counter()
    lf = load_text("\n".join(lines) + "\n", "s.yaml")
    assert time.perf_counter() - start < 5.0
    assert lf.tree is None and len(lf.diagnostics) == 1
    d = lf.diagnostics[0]
    assert "more than" in d.message and "aliases" in d.message and d.location.line >= 1


def test_a_few_aliases_still_work():
    lf = load_text("a: &lr 0.001\nb: *lr\nc: &m {x: 1}\nd: *m\n", "s.yaml")
    assert not lf.diagnostics and lf.tree == {"a": 0.001, "b": 0.001, "c": {"x": 1}, "d": {"x": 1}}


def test_deep_nesting_is_a_diagnostic_not_a_recursion_error():
    for text in ("[" * 5000 + "]" * 5000, "{a: " * 3000 + "1" + "}" * 3000, "- " * 3000 + "1\n"):
        lf = load_text(text, "s.yaml")
        assert lf.tree is None and "levels deep" in lf.diagnostics[0].message
        assert lf.diagnostics[0].location.line == 1 and lf.diagnostics[0].location.column > 1


def test_a_forbidden_character_has_its_line_and_column():
    lf = load_text("version: 1\nname: ab\x00c\n", "s.yaml")
    assert lf.diagnostics[0].format() == (
        "s.yaml:2:9: $: invalid YAML: character U+0000 is not allowed in a YAML file"
    )


def test_bytes_that_are_not_utf8_have_their_line_and_column(tmp_path):
    from specc.load import load_file

    path = tmp_path / "s.yaml"
    path.write_bytes(b"version: 1\nname: \xe9t\xe9\n")
    d = load_file(path).diagnostics[0]
    assert (d.location.line, d.location.column) == (2, 7)
    assert "0xe9 is not UTF-8" in d.message
    path.write_bytes(b"\xef\xbb\xbfversion: 1\n")  # a UTF-8 byte-order mark is fine
    assert load_file(path).tree == {"version": 1}


def test_a_huge_file_is_refused_before_parsing(tmp_path):
    from specc.load import MAX_BYTES, load_file

    path = tmp_path / "s.yaml"
    path.write_text("version: 1\n" + "# padding\n" * (MAX_BYTES // 10 + 1))
    lf = load_file(path)
    assert lf.tree is None and "larger than" in lf.diagnostics[0].message
