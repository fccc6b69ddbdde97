"""load: YAML text -> plain tree + source map. Nothing is merged or validated here.

PyYAML's SafeLoader follows YAML 1.1, which turns `yes`/`off` into booleans, leaves `1e-4` and
`3e5` as strings, makes `2024-01-01` a date and keeps the last of two equal keys without a word.
`SpecLoader` uses YAML 1.2 core rules instead (only true/false are booleans; `1e-4`, `3e5`, `.inf`
are floats; `012` is the integer 12; no timestamps), and the tree is built by hand from composed
nodes so that every key and value gets its file:line:col and duplicate keys become diagnostics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from specc.diagnostics import Diagnostic, Location, json_path

BOOL_TAG = "tag:yaml.org,2002:bool"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"

BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
INT_RE = re.compile(r"^[-+]?[0-9]+$")
FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


def _yaml12_resolvers(base: dict) -> dict:
    """Copy of PyYAML's implicit resolvers without its YAML 1.1 bool/int/float/timestamp rules."""
    dropped = {BOOL_TAG, INT_TAG, FLOAT_TAG, TIMESTAMP_TAG}
    out: dict = {}
    for first, rules in base.items():
        kept = [(tag, rx) for tag, rx in rules if tag not in dropped]
        if kept:
            out[first] = kept
    return out


def _install_yaml12(cls: type) -> None:
    cls.yaml_implicit_resolvers = _yaml12_resolvers(yaml.SafeLoader.yaml_implicit_resolvers)
    # Order matters: the first matching rule wins, so integers are tried before floats.
    cls.add_implicit_resolver(BOOL_TAG, BOOL_RE, list("tTfF"))
    cls.add_implicit_resolver(INT_TAG, INT_RE, list("-+0123456789"))
    cls.add_implicit_resolver(FLOAT_TAG, FLOAT_RE, list("-+0123456789."))


class SpecLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars."""


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return loader.construct_scalar(node).lower() == "true"


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    return int(loader.construct_scalar(node), 10)


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = loader.construct_scalar(node).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


_install_yaml12(SpecLoader)
SpecLoader.add_constructor(BOOL_TAG, _construct_bool)
SpecLoader.add_constructor(INT_TAG, _construct_int)
SpecLoader.add_constructor(FLOAT_TAG, _construct_float)


class SpecDumper(yaml.SafeDumper):
    """Dumper whose quoting decisions follow SpecLoader, so dump -> load round-trips exactly.

    (SafeDumper would write the string '1e5' unquoted, which SpecLoader reads as a float.)
    Lists of scalars are written in flow style: `betas: [0.9, 0.999]`.
    """

    def represent_list(self, data: list) -> yaml.Node:
        flow = all(not isinstance(v, (dict, list)) for v in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_install_yaml12(SpecDumper)
# Also quote what a YAML 1.1 reader would not read as a string (`yes`, `off`, `2024-01-01`), so the
# dumped spec means the same to other tools. The YAML 1.2 rules come first and win for specc.
for _first, _rules in yaml.SafeDumper.yaml_implicit_resolvers.items():
    SpecDumper.yaml_implicit_resolvers.setdefault(_first, [])
    SpecDumper.yaml_implicit_resolvers[_first] = SpecDumper.yaml_implicit_resolvers[_first] + [
        r for r in _rules if r not in SpecDumper.yaml_implicit_resolvers[_first]
    ]
SpecDumper.add_representer(list, SpecDumper.represent_list)
SpecDumper.add_representer(tuple, SpecDumper.represent_list)


def dump_yaml(tree: Any) -> str:
    """Block-style YAML in the tree's own key order (the schema order after resolve)."""
    return yaml.dump(
        tree,
        Dumper=SpecDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )


Path_ = tuple  # a JSON path as a tuple of str keys and int indices


@dataclass(frozen=True)
class Entry:
    """Positions of one node: its key (None for list items and the root) and its value."""

    key: Location | None
    value: Location


@dataclass
class LoadedFile:
    path: Path
    display: str
    tree: Any
    source_map: dict[Path_, Entry] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _loc(display: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(display)
    return Location(display, mark.line + 1, mark.column + 1)


_SURROGATE = re.compile("[\ud800-\udfff]")

# Bounds on the work one spec can cause: a spec is a few kilobytes, a few levels deep, with a few
# hundred values; anchors and aliases (`&a`, `*a`) may reuse a value, but not multiply it without
# bound (ten aliases of ten aliases of ... is a gigabyte from a few lines).
MAX_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_VALUES = 20_000


class _Bounded(Exception):
    """The spec exceeds a bound; carries the diagnostic's message and mark."""

    def __init__(self, message: str, mark: yaml.Mark | None):
        super().__init__(message)
        self.mark = mark


def _check_nesting(loader: SpecLoader) -> None:
    """Scan the whole text (iteratively: PyYAML's composer recurses once per level) and stop at
    the first collection nested deeper than MAX_DEPTH."""
    opening = (
        yaml.BlockMappingStartToken,
        yaml.BlockSequenceStartToken,
        yaml.FlowMappingStartToken,
        yaml.FlowSequenceStartToken,
    )
    closing = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
    depth = 0
    while not loader.check_token(yaml.StreamEndToken):
        token = loader.get_token()
        depth += isinstance(token, opening) - isinstance(token, closing)
        if depth > MAX_DEPTH:
            raise _Bounded(
                f"nested more than {MAX_DEPTH} levels deep: a spec is a few levels deep",
                token.start_mark,
            )


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of character `index` of text."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _Builder:
    def __init__(self, display: str, loader: SpecLoader):
        self.display = display
        self.loader = loader
        self.source_map: dict[Path_, Entry] = {}
        self.diagnostics: list[Diagnostic] = []
        self.values = 0

    def error(self, path: Path_, message: str, mark: yaml.Mark | None) -> None:
        self.diagnostics.append(Diagnostic(json_path(path), message, _loc(self.display, mark)))

    def build(self, node: yaml.Node, path: Path_, key_mark: yaml.Mark | None) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _Bounded(
                f"the spec expands to more than {MAX_VALUES:,} values (through aliases such as "
                "*name?): a spec holds a few hundred",
                node.start_mark,
            )
        key_loc = _loc(self.display, key_mark) if key_mark is not None else None
        self.source_map[path] = Entry(key_loc, _loc(self.display, node.start_mark))
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
            self.error(
                path, f"cannot read this value: tag {node.tag!r} is not allowed", node.start_mark
            )
            return None
        if isinstance(node, yaml.MappingNode):
            return self.build_mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), None) for i, item in enumerate(node.value)]
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            self.error(path, f"cannot read this value: {problem}", node.start_mark)
            return None
        if isinstance(value, str) and _SURROGATE.search(value):
            bad = _SURROGATE.search(value).group()
            self.error(
                path,
                f"cannot read this value: it holds U+{ord(bad):04X}, a lone "
                "surrogate that no file can store",
                node.start_mark,
            )
            return None
        return value

    def build_mapping(self, node: yaml.MappingNode, path: Path_) -> dict:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                self.error(
                    path, "merge keys (<<) and complex keys are not supported", key_node.start_mark
                )
                continue
            key = self.loader.construct_object(key_node)
            if not isinstance(key, str):
                self.error(path, f"key {key!r} must be a string", key_node.start_mark)
                continue
            if key in out:
                self.error(
                    path + (key,),
                    f"duplicate key {key!r} (first at line {first_line[key]})",
                    key_node.start_mark,
                )
                continue
            first_line[key] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, path + (key,), key_node.start_mark)
        return out


def load_text(text: str, display: str, path: Path | None = None) -> LoadedFile:
    """Parse YAML text. Problems come back as diagnostics; nothing raises for bad input."""
    loaded = LoadedFile(path=path or Path(display), display=display, tree=None)
    if len(text) > MAX_BYTES:
        message = f"the spec is {len(text):,} characters long; a spec is at most {MAX_BYTES:,}"
        loaded.diagnostics.append(Diagnostic("$", message, Location(display, 1, 1)))
        return loaded
    try:
        _check_nesting(SpecLoader(text))
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. NUL
        line, column = _position(text, exc.position)
        what = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        message = f"invalid YAML: character {what} is not allowed in a YAML file"
        loaded.diagnostics.append(Diagnostic("$", message, Location(display, line, column)))
        return loaded
    except _Bounded as exc:
        loaded.diagnostics.append(Diagnostic("$", exc.args[0], _loc(display, exc.mark)))
        return loaded
    except yaml.YAMLError:
        pass  # the parse below reports it, with its position
    loader = SpecLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark is not None and exc.problem:
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        loaded.diagnostics.append(Diagnostic("$", f"invalid YAML: {problem}", _loc(display, mark)))
        return loaded
    except yaml.YAMLError as exc:
        loaded.diagnostics.append(Diagnostic("$", f"invalid YAML: {exc}", Location(display)))
        return loaded
    finally:
        loader.dispose()
    if node is None:
        loaded.tree = {}
        loaded.source_map[()] = Entry(None, Location(display, 1, 1))
        return loaded
    builder = _Builder(display, loader)
    try:
        tree = builder.build(node, (), None)
    except _Bounded as exc:
        loaded.diagnostics.append(Diagnostic("$", exc.args[0], _loc(display, exc.mark)))
        return loaded
    loaded.source_map = builder.source_map
    loaded.diagnostics = builder.diagnostics
    if not isinstance(tree, dict):
        loaded.diagnostics.append(
            Diagnostic("$", "a spec must be a mapping of sections", _loc(display, node.start_mark))
        )
        return loaded  # tree stays None: nothing else can be checked
    loaded.tree = tree
    return loaded


def display_name(path: Path) -> str:
    """The name diagnostics use for a file: relative to the working directory when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def load_file(path: Path) -> LoadedFile:
    display = display_name(path)
    lf = LoadedFile(path=path, display=display, tree=None)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        lf.diagnostics.append(Diagnostic("$", "file not found", Location(display)))
        return lf
    except OSError as exc:
        reason = exc.strerror or str(exc)
        lf.diagnostics.append(Diagnostic("$", f"cannot read file: {reason}", Location(display)))
        return lf
    if len(data) > MAX_BYTES:
        message = f"the file is larger than {MAX_BYTES:,} bytes; a spec is a few kilobytes"
        lf.diagnostics.append(Diagnostic("$", message, Location(display, 1, 1)))
        return lf
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start].decode("utf-8", "replace")
        line, column = _position(prefix, len(prefix))
        message = f"byte 0x{data[exc.start]:02x} is not UTF-8: save the spec as UTF-8"
        lf.diagnostics.append(Diagnostic("$", message, Location(display, line, column)))
        return lf
    return load_text(text.removeprefix("\ufeff"), display, path)


def parse_scalar(text: str) -> Any:
    """Parse a `--set` value exactly like a value in a spec file (YAML 1.2 core rules)."""
    loaded = load_text(f"v: {text}" if text.strip() else "v: ''", "--set")
    if loaded.diagnostics or not isinstance(loaded.tree, dict) or "v" not in loaded.tree:
        raise ValueError(
            loaded.diagnostics[0].message if loaded.diagnostics else "unreadable value"
        )
    return loaded.tree["v"]
