"""Prompts are versioned data: ``prompts/<id>.yaml`` with id, version, variables, system, user.

Templates use ``{name}`` placeholders (write ``{{`` and ``}}`` for literal braces). Every
placeholder must be declared in ``variables`` and every declared variable used, so a typo
fails when the file loads, not in front of a customer. Rendering fails on a missing or an
unknown variable. Outputs record ``template.label`` (``"ask@1"``) to say which prompt made them.

Retrieved text goes into prompts only through ``format_evidence``, as delimited data that a
document cannot break out of.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kbassist.core.chunks import Chunk
from kbassist.core.errors import KbassistError
from kbassist.core.llm import Message
from kbassist.core.models import ID_PATTERN, KbConfig

_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Our delimiters, written literally or as HTML entities, with or without a slash.
_DELIMITER = re.compile(r"(?:<|&lt;|&#0*60;|&#x0*3c;)(\s*/?\s*(?:sources?|draft)\b)", re.IGNORECASE)
NO_SOURCES = "(no sources found)"


class PromptError(KbassistError, ValueError):
    """A prompt file is invalid, missing, or was rendered with the wrong variables."""


class PromptTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    version: int | str
    variables: list[str]
    system: str = Field(min_length=1)
    user: str = Field(min_length=1)

    @field_validator("version")
    @classmethod
    def _version_is_int_or_semver(cls, value: int | str) -> int | str:
        if isinstance(value, bool) or (isinstance(value, int) and value < 1):
            raise ValueError("version must be a positive integer or a semver string like 1.2.0")
        if isinstance(value, str) and not _SEMVER.match(value):
            raise ValueError(
                f"version '{value}' must be a positive integer or a semver string like 1.2.0"
            )
        return value

    @model_validator(mode="after")
    def _placeholders_match_variables(self) -> PromptTemplate:
        declared = set(self.variables)
        if len(declared) != len(self.variables):
            raise ValueError("variables lists a name twice")
        bad = [v for v in self.variables if not _IDENTIFIER.match(v)]
        if bad:
            raise ValueError(f"variable names must be identifiers: {', '.join(bad)}")
        used = _placeholders(self.system, "system") | _placeholders(self.user, "user")
        if undeclared := sorted(used - declared):
            raise ValueError(f"placeholders not in variables: {', '.join(undeclared)}")
        if unused := sorted(declared - used):
            raise ValueError(f"variables never used: {', '.join(unused)}")
        return self

    @property
    def label(self) -> str:
        """``id@version``: what an output records to say which prompt produced it."""
        return f"{self.id}@{self.version}"

    def pick(self, values: Mapping[str, str]) -> dict[str, str]:
        """The entries of ``values`` this template takes (e.g. from ``kb_variables``)."""
        return {name: values[name] for name in self.variables if name in values}

    def render(self, **variables: str) -> list[Message]:
        """The system and user messages. Fails on a missing, unknown or non-string variable."""
        missing = [name for name in self.variables if name not in variables]
        unknown = sorted(set(variables) - set(self.variables))
        if missing or unknown:
            problems = []
            if missing:
                problems.append(f"missing variable(s) {', '.join(missing)}")
            if unknown:
                problems.append(f"unknown variable(s) {', '.join(unknown)}")
            raise PromptError(
                f"prompt {self.label}: {'; '.join(problems)}"
                f" (it takes: {', '.join(self.variables)})"
            )
        not_text = sorted(name for name, value in variables.items() if not isinstance(value, str))
        if not_text:
            raise PromptError(f"prompt {self.label}: variable(s) {', '.join(not_text)} must be str")
        return [
            {"role": "system", "content": self.system.format_map(variables).strip()},
            {"role": "user", "content": self.user.format_map(variables).strip()},
        ]


def _placeholders(template: str, where: str) -> set[str]:
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc} (write {{{{ and }}}} for literal braces)") from exc
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not _IDENTIFIER.match(name) or spec or conversion:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise ValueError(f"{where}: placeholder {{{shown}}} must be a plain {{name}}")
        names.add(name)
    return names


# ---------------------------------------------------------------------- loading


PROMPT_IDS = ("ask", "draft", "rfp", "revise")  # every template kbassist ships


def default_prompts_dir() -> Path:
    """The packaged prompts (``kbassist/prompts_data``), else the source checkout's ``prompts/``."""
    packaged = Path(__file__).parents[1] / "prompts_data"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "prompts"


def load_prompt(prompt_id: str, directory: Path | str | None = None) -> PromptTemplate:
    folder = Path(directory) if directory is not None else default_prompts_dir()
    path = folder / f"{prompt_id}.yaml"
    if not path.is_file():
        raise PromptError(f"no prompt '{prompt_id}': {path} does not exist")
    template = _load_file(path)
    if template.id != prompt_id:
        raise PromptError(f"{path}: id is '{template.id}' but the file is named '{prompt_id}.yaml'")
    return template


def all_prompts(directory: Path | str | None = None) -> list[PromptTemplate]:
    """Every prompt in the folder, by id; a bad file raises, so a test can check them all."""
    folder = Path(directory) if directory is not None else default_prompts_dir()
    return [load_prompt(path.stem, folder) for path in sorted(folder.glob("*.yaml"))]


def _load_file(path: Path) -> PromptTemplate:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PromptError(f"{path}: cannot read prompt: {exc}") from exc
    if not isinstance(data, dict):
        raise PromptError(f"{path}: a prompt file must be a mapping of id, version, variables, ...")
    try:
        return PromptTemplate.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'prompt'}:"
            f" {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise PromptError(f"{path}: {problems}") from exc


# ---------------------------------------------------------------------- variables


def kb_variables(config: KbConfig, rep_name: str | None = None) -> dict[str, str]:
    """The voice and policy values every prompt shares, formatted the way the prompts expect."""
    sign_off = config.voice.sign_off
    if rep_name:
        sign_off = sign_off.replace("{rep_name}", rep_name)
    return {
        "company": config.company,
        "product": config.product,
        "tone": ", ".join(config.voice.tone) or "plain, specific",
        "banned_phrases": ", ".join(f'"{p}"' for p in config.voice.banned_phrases) or "(none)",
        "roadmap_disclaimer": config.policy.roadmap_disclaimer.strip(),
        "unknown_answer": config.policy.unknown_answer.strip(),
        "sign_off": sign_off.strip(),
    }


def neutralise_delimiters(text: str) -> str:
    """Turn anything that could open or close our ``<source>``/``<sources>``/``<draft>``
    blocks into look-alike text (``‹/source>``), so quoted text can't end its block and
    pose as instructions."""
    return _DELIMITER.sub(lambda m: "‹" + m.group(1), text)


def _attribute(value: str) -> str:
    flat = re.sub(r"\s+", " ", neutralise_delimiters(value)).strip()
    return flat.replace('"', "'").replace("<", "‹").replace(">", "›")


def format_evidence(chunks: Sequence[Chunk]) -> str:
    """Retrieved chunks as quoted, delimited data for a prompt.

    Each chunk becomes ``<source id="NODE_ID" kind="KIND" title="TITLE">TEXT</source>``
    inside one ``<sources>`` block; the id is the chunk's node id (``claim:naas-pricing``),
    unique across kinds, and is what the model cites as ``[claim:naas-pricing]``. Nothing but
    the chunk's id, kind, title and text is written.
    """
    if not chunks:
        return f"<sources>\n{NO_SOURCES}\n</sources>"
    blocks = [
        f'<source id="{_attribute(c.node_id)}" kind="{_attribute(c.kind)}"'
        f' title="{_attribute(c.title)}">\n{neutralise_delimiters(c.text).strip()}\n</source>'
        for c in chunks
    ]
    return "<sources>\n" + "\n".join(blocks) + "\n</sources>"
