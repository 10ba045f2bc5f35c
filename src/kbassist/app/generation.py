"""The one governed generation path: the offline composer or an LLM writes a candidate,
governance checks it and revises, repairs or blocks it, falling back to the offline text.

Every use case that produces text a rep may send (ask, RFP rows, drafts) goes through
``governed_generation``; nothing else calls a backend.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kbassist.core.chunks import Chunk
from kbassist.core.errors import BackendError
from kbassist.core.governance import GovernanceContext, GovernedOutput, Violation, govern
from kbassist.core.governance.types import WITHHELD
from kbassist.core.llm import LLMBackend
from kbassist.core.models import KnowledgePackage
from kbassist.core.prompts import (
    PROMPT_IDS,
    format_evidence,
    kb_variables,
    load_prompt,
    neutralise_delimiters,
)
from kbassist.core.results import split_citations

OFFLINE_PROMPT = {"id": "offline-composer", "version": 1}


@dataclass
class Generation:
    """Inputs of one governed generation (see ``governed_generation``)."""

    prompt_id: str
    variables: dict[str, str]
    task: str
    evidence: list[Chunk]
    offline_text: str
    offline_cited: list[Chunk]


def governed_generation(
    backend: LLMBackend | None, gen: Generation, package: KnowledgePackage,
    ctx: GovernanceContext, *, max_revisions: int, rep_name: str | None = None,
    shape: Callable[[str], str] = lambda text: text,
) -> tuple[str, list[Chunk], GovernedOutput, dict[str, Any]]:
    """Write a candidate (offline composer or LLM), then govern it. Falls back to the
    offline text whenever the model fails or governance blocks its output."""
    offline = gen.offline_text
    if backend is None:
        governed = govern(offline, ctx, gen.offline_cited, fallback=lambda: offline)
        return governed.text, gen.offline_cited, governed, OFFLINE_PROMPT
    template = load_prompt(gen.prompt_id)
    shared = kb_variables(package.config, rep_name)
    evidence_text = format_evidence(gen.evidence)
    messages = template.render(**template.pick(shared), **gen.variables,
                   evidence=evidence_text)
    attempts: list[str] = []

    def regenerate(violations: Sequence[Violation]) -> str:
        revise = load_prompt("revise")
        failed = redact_internal(attempts[-1] if attempts else "", violations)
        request = revise.render(
        **revise.pick(shared), task=gen.task, draft=neutralise_delimiters(failed),
        violations=describe_for_revision(violations),
        evidence=evidence_text)
        text = shape(split_citations(backend.complete(request), gen.evidence)[0])
        attempts.append(text)
        return text

    notes: list[str] = []
    try:
        raw = backend.complete(messages)
        candidate, cited = split_citations(raw, gen.evidence)
        candidate = shape(candidate)
    except BackendError as exc:
        notes.append(f"the {backend.name} backend failed ({exc}); answered offline instead")
        candidate, cited = offline, list(gen.offline_cited)
    attempts.append(candidate)
    governed = govern(candidate, ctx, gen.evidence, regenerate=regenerate,
              fallback=lambda: offline, max_revisions=max_revisions)
    if governed.status == "blocked" or notes:
        cited = list(gen.offline_cited)
    if notes:
        governed = replace(governed, changes=tuple(notes) + governed.changes)
    prompt = {"id": template.id, "version": template.version}
    return governed.text, cited or list(gen.evidence), governed, prompt



_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def system_prompts() -> list[str]:
    """The prompts' system texts (placeholders removed): governance treats them as internal,
    so a model that echoes its instructions is caught like one that echoes a roadmap note."""
    return [_PLACEHOLDER.sub(" ", load_prompt(p).system) for p in PROMPT_IDS]


def _leak_spans(violations: Sequence[Violation]) -> list[tuple[int, int]]:
    """Spans to hide from a model: every violation whose excerpt governance withheld (each
    internal leak and every violation overlapping one, see ``withhold_internal``)."""
    return [v.span for v in violations if v.excerpt == WITHHELD]


def redact_internal(text: str, violations: Sequence[Violation]) -> str:
    """Internal notes never enter a prompt, not even when a model echoed them."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(_leak_spans(violations)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    for start, end in reversed(merged):
        text = text[:start] + "[confidential text removed]" + text[end:]
    return text


def describe_for_revision(violations: Sequence[Violation]) -> str:
    lines = []
    for violation in violations:
        if violation.excerpt == WITHHELD:
            line = f"- {violation.rule}: a sentence repeated confidential notes; leave it out"
        else:
            line = f"- {violation.rule}: {violation.detail}"
        if line not in lines:
            lines.append(line)
    return "\n".join(lines)


