"""YAML loading that remembers where each mapping and key starts, for path:line errors."""

from __future__ import annotations

import re
from typing import Any

import yaml

LINE_KEY = "__line__"
KEY_LINES = "__keylines__"


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings (pydantic parses and reports them) and
    annotates every mapping with its line and the line of each key."""


# Drop the implicit timestamp resolver: a bad date such as 2027-13-45 should be a field
# error with a line number, not an exception that hides every other problem in the file.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    mapping[LINE_KEY] = node.start_mark.line + 1
    mapping[KEY_LINES] = {
        key.value: key.start_mark.line + 1
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }
    return mapping


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


class YamlProblem(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def load_yaml(text: str) -> Any:
    """Parse YAML, raising YamlProblem(line, message) for syntax errors."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlProblem(line, f"invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(1, f"invalid YAML: {exc}") from exc


def strip_lines(value: Any) -> Any:
    """Remove the line annotations, recursively."""
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k not in (LINE_KEY, KEY_LINES)}
    if isinstance(value, list):
        return [strip_lines(v) for v in value]
    return value


def line_of(mapping: Any, key: str | None = None, default: int = 1) -> int:
    if not isinstance(mapping, dict):
        return default
    if key is not None:
        line = mapping.get(KEY_LINES, {}).get(key)
        if isinstance(line, int):
            return line
    line = mapping.get(LINE_KEY)
    return line if isinstance(line, int) else default


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)


def split_front_matter(text: str) -> tuple[str, str, int]:
    """Return (front matter YAML, body, line where the body starts)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return "", text, 1
    body_line = text[: match.end()].count("\n") + 1
    return match.group(1), text[match.end() :], body_line
