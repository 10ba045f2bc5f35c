"""HTML for the app's own panels: pure functions of kbassist results, no Gradio.

Everything a package author or a rep typed is escaped here; nothing from a package ever reaches
the page as markup. Roadmap items are shown only through their public fields (``say``,
``window``, aliases), never ``internal``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from pathlib import Path
from typing import Any

from kbassist.core.chunks import Chunk
from kbassist.core.governance import GovernedOutput
from kbassist.core.models import Claim, KnowledgePackage, RoadmapItem
from kbassist.core.text import sentences as core_sentences

# The board's columns: package status -> what reps call it.
BOARD_COLUMN = {"available": "now", "next": "next", "later": "later", "never": "never"}
BOARD_TITLES = {"now": "Now", "next": "Next", "later": "Later", "never": "Never"}
EXPIRY_SOON_DAYS = 30

BADGE = {
    "pass": "Checked against approved claims",
    "revised": "Revised to stay within approved claims",
    "blocked": "Blocked: the safe, approved answer was used instead",
}
DOCUMENT_KINDS = ("messaging", "reference")


def board_status(status: str) -> str:
    return BOARD_COLUMN.get(status, status)


def chip(text: str, css: str) -> str:
    return f'<span class="kb-chip {escape(css, quote=True)}">{escape(text)}</span>'


def status_chip(status: str) -> str:
    """A roadmap status as reps say it: available is "now"."""
    column = board_status(status)
    return chip(column, column)


def where(chunk: Chunk) -> str:
    """``path:line`` inside the package (relative: the package folder itself is never served)."""
    return f"{chunk.source}:{chunk.line}" if chunk.line else chunk.source


def error_html(action: str, message: str) -> str:
    """A failure, shown where the result would have been."""
    return (f'<div class="kb-panel kb-error"><b>Couldn\'t {escape(action)}.</b> '
            f"{escape(message)}</div>")


# -- header ------------------------------------------------------------------------------


def header_html(package: KnowledgePackage, backend: str, user: str | None = None) -> str:
    config = package.config
    pills = [f'kb_version <code>{escape(package.kb_version)}</code>',
             f"backend {escape(backend)}"]
    if user:
        pills.append(f"signed in as {escape(user)}")
    meta = "".join(f'<span class="kb-pill">{p}</span>' for p in pills)
    return (
        '<div class="kb-header"><div>'
        f"<h1>{escape(config.product)} assistant</h1>"
        f'<p class="kb-sub">{escape(config.company)} · answers only from approved material, '
        "every one checked before you see it</p></div>"
        f'<div class="kb-meta">{meta}</div></div>'
    )


# -- answers -----------------------------------------------------------------------------


def badge(status: str) -> str:
    """The governance badge: a colored status chip and what it means."""
    return f"{chip(status, status)} {escape(BADGE.get(status, status))}"


def governance_title(governed: GovernedOutput, unknown: bool = False) -> str:
    if unknown:
        return (f"{chip('not covered', 'muted')} Not in the approved material: the question "
                "is logged for the product team")
    text = badge(governed.status)
    count = len(governed.changes)
    if governed.status == "revised" and count:
        text += f" ({count} change{'s' if count != 1 else ''})"
    return text


def governance_details(governed: GovernedOutput, unknown: bool = False) -> str:
    """What governance changed and caught; the body of the badge's expander."""
    lines: list[str] = []
    if governed.changes:
        lines.append("<b>What was changed</b><ul>")
        lines.extend(f"<li>{escape(change)}</li>" for change in governed.changes)
        lines.append("</ul>")
    if governed.caught:
        lines.append("<b>What was caught</b><ul>")
        lines.extend(f'<li><span class="kb-rule">{escape(v.rule)}</span> {escape(v.detail)}</li>'
                     for v in governed.caught)
        lines.append("</ul>")
    if not lines:
        lines.append("Nothing to say here yet: no approved material answers this question."
                     if unknown else
                     "No changes needed: every statement is backed by the sources below.")
    return f'<div class="kb-checks">{"".join(lines)}</div>'


def _citation_label(chunk: Chunk) -> str:
    if chunk.kind == "roadmap":
        return f'{status_chip(chunk.status)} <span class="kb-title">{escape(chunk.title)}</span>'
    if chunk.kind in DOCUMENT_KINDS:
        return f'<span class="kb-title">{escape(chunk.title)}</span>'
    return f'<span class="kb-ref">{escape(chunk.ref_id)}</span>'


def citation_html(chunk: Chunk) -> str:
    """One source: a chip and its id or title; opens to the passage and its ``path:line``."""
    return (
        f'<details class="kb-cite"><summary>{chip(chunk.kind, chunk.kind)} '
        f"{_citation_label(chunk)}</summary>"
        f'<div class="kb-passage">{escape(chunk.text)}</div>'
        f'<div class="kb-where">{escape(where(chunk))}</div></details>'
    )


def sources_html(citations: Sequence[Chunk], roadmap: Sequence[dict[str, str]] = ()) -> str:
    """The sources of one answer, plus any roadmap item asked about but not cited."""
    cited_roadmap = {c.ref_id for c in citations if c.kind == "roadmap"}
    parts = [citation_html(c) for c in citations]
    for item in roadmap:
        if item.get("id") not in cited_roadmap:
            parts.append(
                f'<details class="kb-cite"><summary>{chip("roadmap", "roadmap")} '
                f'{status_chip(item.get("status", ""))} <span class="kb-title">'
                f'{escape(item.get("title", item.get("id", "")))}</span></summary>'
                '<div class="kb-passage">Asked about; described only with its approved '
                "wording.</div></details>")
    if not parts:
        return ""
    return f'<div class="kb-sources"><span class="kb-label">Sources</span>{"".join(parts)}</div>'


def checks_panel_html(governed: GovernedOutput, citations: Sequence[Chunk],
                      roadmap: Sequence[dict[str, str]] = ()) -> str:
    """The draft's checks panel: the badge, what changed, and the sources."""
    return (f'<div class="kb-panel"><h3>{badge(governed.status)}</h3>'
            f"{governance_details(governed)}{sources_html(citations, roadmap)}</div>")


def sentences(text: str) -> list[str]:
    """Reveal steps for an answer: its sentences (a line break counts as a boundary)."""
    return core_sentences(text) or [text]


# -- knowledge ---------------------------------------------------------------------------


def stats_html(package: KnowledgePackage, today: date) -> str:
    expired = len(package.expired_claims(today))
    stats = [
        (len(package.approved_claims(today)), "approved claims"),
        (expired, "expired claims"),
        (len(package.roadmap), "roadmap items"),
        (len(package.documents), "documents"),
        (len(package.personas), "personas"),
        (len(package.segments), "segments"),
    ]
    cells = "".join(f'<div class="kb-stat"><b>{n}</b><span>{escape(label)}</span></div>'
                    for n, label in stats)
    return f'<div class="kb-stats">{cells}</div>'


def expiry_chip(claim: Claim, today: date) -> str:
    if claim.expires is None:
        return chip("no expiry", "muted")
    if claim.expires < today:
        return chip(f"expired {claim.expires}", "expired")
    if claim.expires <= today + timedelta(days=EXPIRY_SOON_DAYS):
        return chip(f"expires {claim.expires}", "expiring")
    return chip(f"until {claim.expires}", "muted")


@dataclass(frozen=True)
class ClaimFilter:
    kind: str = ""
    persona: str = ""
    segment: str = ""
    text: str = ""

    def keeps(self, claim: Claim) -> bool:
        """Empty fields keep everything; claims with no persona/segment apply to all."""
        needle = self.text.strip().lower()
        return ((not self.kind or claim.kind == self.kind)
                and claim.applies_to(self.persona or None, self.segment or None)
                and (not needle or needle in claim.text.lower() or needle in claim.id))


def _audience(values: Iterable[str]) -> str:
    listed = list(values)
    return escape(", ".join(listed)) if listed else '<span class="kb-muted">all</span>'


def claims_table_html(claims: Sequence[Claim], today: date, keep: ClaimFilter) -> str:
    rows = [c for c in claims if keep.keeps(c)]
    if not rows:
        return '<p class="kb-muted">No claims match these filters.</p>'
    body = "".join(
        f'<tr><td class="kb-id">{escape(c.id)}</td><td>{chip(c.kind, "claim")}</td>'
        f"<td>{escape(c.text)}</td><td>{_audience(c.personas)}</td>"
        f"<td>{_audience(c.segments)}</td><td>{expiry_chip(c, today)}</td></tr>"
        for c in rows)
    return (
        f'<p class="kb-muted">{len(rows)} of {len(claims)} claims</p>'
        '<div class="kb-scroll"><table class="kb-table"><thead><tr><th>id</th><th>kind</th>'
        "<th>approved wording</th><th>personas</th><th>segments</th><th>expiry</th></tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def _card(item: RoadmapItem) -> str:
    """Public fields only: ``internal`` is never read here."""
    parts = [f'<div class="kb-card"><div class="kb-card-title">{escape(item.title)}</div>',
             f'<div class="kb-card-id">{escape(item.id)}</div>']
    if item.say:
        parts.append(f"<p>{escape(item.say)}</p>")
    if item.status == "next" and item.window:
        parts.append(f'<p class="kb-muted">Planned window: {escape(item.window)}</p>')
    if item.aliases:
        parts.append(f'<div class="kb-aka">also called {escape(", ".join(item.aliases))}</div>')
    parts.append("</div>")
    return "".join(parts)


def roadmap_board_html(items: Sequence[RoadmapItem]) -> str:
    columns = []
    for column, title in BOARD_TITLES.items():
        cards = [_card(i) for i in items if board_status(i.status) == column]
        empty = '<p class="kb-muted">Nothing here.</p>'
        columns.append(
            f'<div class="kb-col" data-column="{column}"><h3>{chip(title, column)}'
            f'<span class="kb-count">{len(cards)}</span></h3>{"".join(cards) or empty}</div>')
    return f'<div class="kb-board">{"".join(columns)}</div>'


def findings_html(errors: Sequence[Any], warnings: Sequence[Any], root: Path) -> str:
    """Lint findings (objects with path, line, rule, message, severity), paths shown from
    the package folder down: no absolute server paths on screen."""
    if not errors and not warnings:
        return f'<p>{chip("clean", "pass")} No errors or warnings in the package.</p>'
    rows = "".join(
        f'<tr><td>{chip(f.severity, f.severity)}</td><td class="kb-id">'
        f'{escape(_relative(f.path, root))}:{f.line}</td><td class="kb-id">{escape(f.rule)}</td>'
        f"<td>{escape(f.message)}</td></tr>"
        for f in [*errors, *warnings])
    summary = f"{len(errors)} error(s), {len(warnings)} warning(s)"
    return (f'<p class="kb-muted">{summary}</p><div class="kb-scroll"><table class="kb-table">'
            "<thead><tr><th></th><th>where</th><th>rule</th><th>finding</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(path).name


# -- fit ---------------------------------------------------------------------------------


def _bullets(title: str, items: Sequence[str]) -> str:
    if not items:
        return ""
    lis = "".join(f"<li>{escape(i)}</li>" for i in items)
    return f"<h4>{escape(title)}</h4><ul>{lis}</ul>"


def fit_html(result: Any) -> str:
    """A FitResult: verdict chip, segment, reasons, disqualifiers, what wasn't stated."""
    segment = escape(result.segment_name or "no matching segment")
    return (
        f'<div class="kb-panel"><div class="kb-verdict">{chip(result.verdict, result.verdict)}'
        f"<b>{segment}</b></div>"
        f"{_bullets('Why', result.reasons)}"
        f"{_bullets('Disqualifiers', result.disqualifiers)}"
        f"{_bullets('Not stated in the description', result.missing)}</div>"
    )


# -- gaps --------------------------------------------------------------------------------


def _pairs(counts: dict[str, int]) -> str:
    return escape(", ".join(f"{k} ({v})" for k, v in counts.items())) or "–"


def gaps_html(report: Any) -> str:
    """A GapsReport: question clusters and roadmap demand, most asked first."""
    if not report.clusters and not report.roadmap:
        return ('<p class="kb-muted">No gaps yet: unknown questions, low-confidence answers, '
                "thumbs-down and roadmap requests show up here as reps use the app.</p>")
    clusters = "".join(
        f"<tr><td><b>{c.count}</b></td><td>{escape(c.label)}"
        f'<div class="kb-muted">{escape(" · ".join(c.examples[1:4]))}</div></td>'
        f"<td>{_pairs(c.kinds)}</td><td>{escape(c.owner_name or c.owner)}</td>"
        f'<td>{escape(c.action)}</td><td class="kb-id">{escape(c.last_seen[:10])}</td></tr>'
        for c in report.clusters)
    demand = "".join(
        f"<tr><td><b>{r.count}</b></td><td>{status_chip(r.status)} {escape(r.title)}</td>"
        f"<td>{_pairs(r.segments)}</td><td>{_pairs(r.personas)}</td>"
        f'<td>{escape(r.action)}</td><td class="kb-id">{escape(r.last_seen[:10])}</td></tr>'
        for r in report.roadmap)
    return (
        "<h3>Questions we couldn't answer</h3>"
        + _table(["asked", "question (and similar ones)", "why", "owner", "proposed action",
                  "last seen"], clusters)
        + "<h3>Roadmap requests</h3>"
        + _table(["asked", "item", "segments", "personas", "proposed action", "last seen"],
                 demand)
    )


def _table(headers: Sequence[str], rows: str) -> str:
    if not rows:
        return '<p class="kb-muted">None.</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return (f'<div class="kb-scroll"><table class="kb-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")
