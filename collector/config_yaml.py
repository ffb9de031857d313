"""Reading a config file's YAML within bounds, so a hostile or broken file is refused by name.

A config file is small and hand-written; these limits are far above any real one and far below
what hurts (docs/reliability.md "Config files are bounded"):

- UTF-8 only: other bytes are refused with their offset, not decoded by the locale's guess.
- At most `MAX_DEPTH` nested collections: deeper would exhaust the parser's recursion.
- At most `MAX_ALIASES` aliases (`*name`) and `MAX_VALUES` values once aliases are expanded: an
  anchor repeated by aliases of aliases ("billion laughs") expands to 10^9 values from 1 kB.
- Mapping keys are strings: `1: x` or `[a]: x` is refused with the key's path.
- Integers have at most `MAX_INT_DIGITS` digits.
"""

from __future__ import annotations

import reprlib
from typing import Any

import yaml
from yaml.events import AliasEvent

from collector.errors import ConfigError

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 32
MAX_ALIASES = 100
MAX_VALUES = 100_000
MAX_INT_DIGITS = 30

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = _short.maxdict = _short.maxtuple = 4
_short.maxlevel = 2


def shown(value: Any) -> str:
    """A value as an error message may quote it: short, whatever its size."""
    return _short.repr(value)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts nesting and aliases while composing (before anything is built)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise ConfigError(
                    "", f"more than {MAX_ALIASES} YAML aliases (line {mark.line + 1})"
                )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ConfigError(
                    "", f"nested deeper than {MAX_DEPTH} levels (line {mark.line + 1})"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        # the scanner rescans every open `[`/`{` per token: 5,000 of them take seconds
        if self.flow_level >= MAX_DEPTH:
            line = self.get_mark().line + 1
            raise ConfigError("", f"nested deeper than {MAX_DEPTH} levels (line {line})")
        super().fetch_flow_collection_start(token_class)

    def construct_yaml_int(self, node: Any) -> Any:
        digits = sum(ch.isdigit() for ch in str(node.value))
        if digits > MAX_INT_DIGITS:
            line = node.start_mark.line + 1
            raise ConfigError("", f"an integer of {digits} digits (line {line})")
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def parse_yaml(data: bytes | str, source: str) -> Any:
    """The YAML document in `data` (bytes must be UTF-8), checked against the bounds above."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise ConfigError("", f"{source} is larger than {MAX_BYTES // (1024 * 1024)} MiB")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError("", f"{source} is not UTF-8 (byte {exc.start})") from exc
    loader = _BoundedLoader(data)
    try:
        value = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{source} is not valid YAML: {_one_line(exc)}") from exc
    finally:
        loader.dispose()
    check_tree(value, "", [0])
    return value


def _one_line(exc: yaml.YAMLError) -> str:
    """PyYAML's message without the quoted source lines: the problem and where it is."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def check_tree(value: Any, key: str, count: list[int], depth: int = 0) -> None:
    """Walk the built value as the collector will: bounded in values and depth, string keys."""
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise ConfigError("", f"more than {MAX_VALUES} values once YAML aliases are expanded")
    if depth > MAX_DEPTH:  # a recursive alias (`&a [*a]`) is the only way here
        raise ConfigError(key, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str):
                where = f"{key}.{shown(name)}" if key else shown(name)
                raise ConfigError(where, f"keys must be strings, got {type(name).__name__}")
            check_tree(item, f"{key}.{name}" if key else name, count, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_tree(item, f"{key}[{i}]", count, depth + 1)
