"""Eval cases are data: YAML files in a suite folder (``evals/cases`` by default).

A case file holds ``cases:`` (a list) and optionally ``kind:`` (the default kind of its cases)
and ``include:`` (other case files, relative to this one, e.g. the labelled fit prospects).
Every case has an ``id``, a ``kind`` (ask | draft | rfp | fit), its inputs, and ``expect``:
what a good output does. ``kb`` runs a case against another package folder (relative to the
case file), so a suite can carry its own poisoned or mutated test packages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kbassist.core.errors import UsageError
from kbassist.core.models import ID_PATTERN, KnowledgePackage
from kbassist.core.yaml_lines import YamlProblem, line_of, load_yaml, strip_lines

CaseKind = Literal["ask", "draft", "rfp", "fit"]
Status = Literal["available", "next", "later", "never"]
KINDS: tuple[CaseKind, ...] = ("ask", "draft", "rfp", "fit")
NOT_CASES = frozenset({"gates.yaml", "gates.yml"})  # a suite folder may hold its own gates


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expect(_Strict):
    """What a good output does. Every field is optional; only what is given is checked.

    Text patterns are case-insensitive substrings, or regular expressions written ``re:...``.
    Ids are claim, roadmap, segment or persona ids, or document refs: ``path#anchor``, or a
    bare ``path`` standing for every section of that document.
    """

    cite: list[str] = Field(default_factory=list, description="every one must be cited")
    cite_any: list[str] = Field(default_factory=list, description="at least one must be cited")
    allow: list[str] = Field(default_factory=list,
                             description="also relevant citations (for citation precision)")
    not_cite: list[str] = Field(default_factory=list, description="must never be cited")
    retrieve: list[str] | None = Field(
        default=None,
        description="ids retrieval should rank high (default: cite, cite_any, roadmap)")
    must: list[str] = Field(default_factory=list, description="patterns that must appear")
    must_not: list[str] = Field(default_factory=list, description="patterns that must not")
    roadmap: dict[str, Status] = Field(
        default_factory=dict, description="roadmap items the output treats, by expected status")
    unknown: bool | None = Field(
        default=None, description="true: answered with the unknown answer; false: answered")
    governance: list[Literal["pass", "revised", "blocked"]] = Field(
        default_factory=list, description="allowed governance outcomes")
    caught: list[str] = Field(default_factory=list,
                              description="rules governance must have caught (red-team)")
    needs_review: bool | None = Field(default=None,
                                      description="rfp: the row is flagged for review")
    max_words: int | None = None
    max_chars: int | None = None
    verdict: Literal["fit", "partial", "no-fit"] | None = Field(default=None,
                                                                description="fit verdict")
    reflect: list[str] = Field(default_factory=list,
                               description="draft: at least one must appear (the context)")
    segment: str | None = Field(default=None, description="fit: expected segment id (null: none)")

    def retrieval_ids(self) -> list[str]:
        if self.retrieve is not None:
            return list(self.retrieve)
        return list(dict.fromkeys([*self.cite, *self.cite_any, *self.roadmap]))

    def relevant_ids(self) -> set[str]:
        """Citations that count as relevant for citation precision."""
        return {*self.cite, *self.cite_any, *self.allow, *self.roadmap,
                *(self.retrieve or [])}

    @property
    def checks_segment(self) -> bool:
        return "segment" in self.model_fields_set


QuestionClass = Literal["fact", "pricing", "proof", "objection", "promise", "competitor",
                        "security", "integration", "pitch", "icp", "owner", "typo", "followup",
                        "multipart", "uncovered"]


class Turn(_Strict):
    role: Literal["user", "assistant"]
    text: str


class Case(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=ID_PATTERN)
    kind: CaseKind
    question_class: QuestionClass | None = Field(default=None, alias="class")  # ask
    why: str = ""
    tags: list[str] = Field(default_factory=list)
    kb: str | None = Field(default=None, description="another package folder, relative to the file")
    question: str | None = None  # ask, rfp
    section: str | None = None  # rfp
    persona: str | None = None  # ask, draft
    segment: str | None = None  # ask, draft
    channel: Literal["email", "linkedin", "call-opener"] | None = None  # draft
    account: str | None = None  # draft
    contact: str | None = None  # draft
    context: str | None = None  # draft
    description: str | None = None  # fit
    history: list[Turn] = Field(default_factory=list)  # ask: the conversation so far
    source_file: str | None = None  # rfp: the buyer file the row is from (relative)
    row: int | None = None  # rfp: its row (xlsx, csv) or number (docx)
    meaning_only: bool = False  # fit: only the embedder can get it (see prospects.yaml)
    expect: Expect = Field(default_factory=lambda: Expect.model_validate({}))
    file: str = ""  # where the case was read from (filled by the loader)
    line: int = 0
    kb_path: str | None = None  # ``kb`` resolved (filled by the loader)

    @model_validator(mode="after")
    def _inputs_for_kind(self) -> Case:
        needed = {"ask": ("question",), "rfp": ("question",), "draft": ("channel", "persona"),
                  "fit": ("description",)}[self.kind]
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"a {self.kind} case needs {', '.join(missing)}")
        return self

    def inputs(self) -> dict[str, Any]:
        names = {"ask": ("question", "persona", "segment"), "rfp": ("question", "section"),
                 "draft": ("channel", "persona", "segment", "account", "contact", "context"),
                 "fit": ("description",)}[self.kind]
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


class Suite(BaseModel):
    name: str
    folder: Path
    cases: list[Case]

    def count_by_kind(self) -> dict[str, int]:
        return {k: sum(1 for c in self.cases if c.kind == k) for k in KINDS}


def _read(path: Path) -> Any:
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the case file ({exc.strerror})") from exc
    except YamlProblem as exc:
        raise UsageError(f"{path}:{exc.line}: {exc.message}") from exc


def _case(raw: Any, path: Path, kind: str | None) -> Case:
    where = f"{path.as_posix()}:{line_of(raw)}"
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: a case must be a mapping")
    data = strip_lines(raw)
    data.setdefault("kind", kind)
    if "file" in data:  # an rfp row's buyer file; ``file`` is where the case was read from
        data["source_file"] = data.pop("file")
    try:
        case = Case.model_validate({**data, "file": path.as_posix(), "line": line_of(raw)})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "case"
        ident = data.get("id", "?")
        raise UsageError(f"{where}: case '{ident}': {field}: {first.get('msg')}") from exc
    if case.kb:
        case = case.model_copy(update={"kb_path": (path.parent / case.kb).resolve().as_posix()})
    return case


def load_case_file(path: Path, seen: set[Path] | None = None,
                   default_kind: str | None = None) -> list[Case]:
    """The cases of one file and of the files it includes."""
    seen = set() if seen is None else seen
    resolved = path.resolve()
    if resolved in seen:
        raise UsageError(f"{path}: included twice (an include loop?)")
    seen.add(resolved)
    data = _read(path)
    if data is None:
        return []
    if not isinstance(data, dict):
        raise UsageError(f"{path}:1: a case file is a mapping with a 'cases:' list")
    kind = data.get("kind", default_kind)
    if kind is not None and kind not in KINDS:
        raise UsageError(f"{path}:{line_of(data, 'kind')}: kind must be one of {KINDS}")
    cases: list[Case] = []
    for include in data.get("include") or []:
        cases += load_case_file(path.parent / str(include), seen, kind)
    raws = data.get("cases") or []
    if not isinstance(raws, list):
        raise UsageError(f"{path}:{line_of(data, 'cases')}: 'cases:' must be a list")
    cases += [_case(raw, path, kind) for raw in raws]
    return cases


def load_suite(folder: Path, name: str = "default") -> Suite:
    """Every ``*.yaml`` file directly in ``folder`` (sorted), with their includes."""
    if not folder.is_dir():
        raise UsageError(f"eval suite folder not found: {folder}")
    seen: set[Path] = set()
    cases: list[Case] = []
    for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        if path.name not in NOT_CASES and path.resolve() not in seen:
            cases += load_case_file(path, seen)
    if not cases:
        raise UsageError(f"eval suite {folder} has no cases")
    first: dict[str, Case] = {}
    for case in cases:
        if case.id in first:
            other = first[case.id]
            raise UsageError(f"{case.file}:{case.line}: duplicate case id '{case.id}' (first in "
                             f"{other.file}:{other.line})")
        first[case.id] = case
    return Suite(name=name, folder=folder, cases=cases)


def known_ids(package: KnowledgePackage) -> set[str]:
    ids = {c.id for c in package.claims} | {r.id for r in package.roadmap}
    ids |= {s.id for s in package.segments} | {p.id for p in package.personas}
    for document in package.documents:
        ids.add(document.path)
        ids.update(f"{document.path}#{s.anchor}" for s in document.sections)
    return ids


def unknown_references(case: Case, package: KnowledgePackage) -> list[str]:
    """Ids a case expects that the package does not have (a stale case, or a removed claim)."""
    expect = case.expect
    wanted = [*expect.cite, *expect.cite_any, *expect.allow, *(expect.retrieve or []),
              *expect.roadmap]  # not_cite may name what is gone: still a valid expectation
    known = known_ids(package)
    refs = [i for i in dict.fromkeys(wanted) if i not in known]
    for field in ("persona", "segment"):
        value = getattr(case, field)
        if case.kind != "fit" and value and value not in known:
            refs.append(value)
    if case.kind == "fit" and expect.segment and expect.segment not in known:
        refs.append(expect.segment)
    return refs
