"""roadmap-overpromise: next/later/never items may only be described with their approved
wording. Available items are never flagged."""

from __future__ import annotations

import re

from kbassist.core.governance.analysis import Analysis, Mention
from kbassist.core.governance.context import GovernanceContext, RoadmapEntry
from kbassist.core.governance.numbers import MONTH
from kbassist.core.governance.types import Span, Violation

RULE = "roadmap-overpromise"

_CLAUSE_BREAK = re.compile(
    r"[;:()]|\s[—–-]\s|—|,?\s+\b(?:but|however|although|though|whereas|while|yet|instead|"
    r"meanwhile|until\s+then|in\s+the\s+meantime|today\s+you\s+can)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"\b(?:not|never|nor|neither|without|cannot|yet\s+to)\b|n['’]t\b"
    r"|\bno\b(?!\s+(?:extra|additional|upfront|up-front|hidden|separate|set-?up|implementation|"
    r"need|longer\s+need|more\s+than))",
    re.IGNORECASE,
)
_AVAILABLE = re.compile(
    r"\b(?:(?:is|are|it's|they're|it\s+is|they\s+are)\s+(?:now\s+|already\s+|generally\s+|fully\s+)?"
    r"(?:available|live|included|supported|ready|in\s+production|launched|released|shipping|"
    r"part\s+of)"
    r"|available\s+(?:today|now|to\s+all|in\s+all)|now\s+(?:available|live|supports?|offers?|"
    r"includes?|has|comes\s+with|ships?)"
    r"|includ(?:es|ed)|comes?\s+with|(?:we|it|they|which|that)\s+ships?|shipping|shipped"
    r"|you\s+can\s+(?:already\s+|now\s+)?(?:use|get|try|turn\s+on|enable|start|set\s+up|buy|add|"
    r"switch\s+on|run|deploy|connect|order|have)"
    r"|lets?\s+you|we\s+(?:already\s+)?(?:offer|provide|support|have|deliver|sell)"
    r"|went\s+live|goes\s+live|out\s+of\s+the\s+box|built[- ]in"
    r"|launched|released|rolled\s+out|piloting|in\s+(?:beta|early\s+access|preview|pilot)"
    r"|(?:open|public|private)\s+beta)\b",
    re.IGNORECASE,
)
# Weaker cues, ignored when the clause says the item is being built or explored.
_SOFT_AVAILABLE = re.compile(
    r"\b(?:offers?|provides?|supports?|delivers?|enables?|handles?|works?\s+with|"
    r"integrates?\s+with|plugs?\s+into|(?:it|this|that|they|which)\s+(?:has|have))\b",
    re.IGNORECASE,
)
_DEVELOPMENT = re.compile(
    r"\b(?:build(?:ing)?|develop(?:ing|ment)?|working\s+on|explor(?:e|es|ing)|research(?:ing)?|"
    r"plan(?:s|ned|ning)?|roadmap|future|assess(?:ing)?|consider(?:ing)?|evaluat(?:e|ing)|"
    r"design(?:ing)?|prototyp(?:e|ing))\b",
    re.IGNORECASE,
)
_COMMITTED = re.compile(
    r"\b(?:will\s+(?:be\s+)?(?:delivered|available|ready|released|shipped|launched|live|shipping|"
    r"included|generally\s+available|in\s+(?:the\s+)?product)"
    r"|will\s+(?:definitely\s+)?(?:ship|launch|arrive|go\s+live|land|deliver|be\s+there)"
    r"|(?:delivered|ready|shipping|launch(?:ing)?|arriving|landing)\s+(?:by|in|on|before)\b"
    r"|guarantee[ds]?|promise[ds]?|definitely|for\s+sure|firm\s+date|locked\s+in)\b",
    re.IGNORECASE,
)
_SPECULATIVE_COMMITMENT = re.compile(
    r"\b(?:committed|commitment|on\s+(?:the|our)\s+roadmap\s+for|planned\s+for|scheduled\s+for|"
    r"coming\s+(?:soon|in|next|this|later)|on\s+the\s+way|in\s+the\s+works|next\s+release|"
    r"in\s+development|being\s+built|we(?:'re|\s+are)\s+building)\b",
    re.IGNORECASE,
)
DATE_EXPRESSION = re.compile(
    rf"\b(?:Q[1-4]|H[12]|FY\d{{2,4}}|{MONTH}|20\d\d)\b"
    r"|(?i:\b(?:(?:first|second|third|fourth|last)\s+(?:quarter|half)"
    r"|(?:early|mid|late|end\s+of|start\s+of|beginning\s+of)[\s-]+(?:the\s+)?(?:year|quarter)"
    r"|(?:next|this)\s+(?:month|quarter|year|release|sprint|spring|summer|autumn|fall|winter)"
    r"|(?:within|in)\s+(?:\d+|a\s+few|a|one|two|three|four|six|nine|twelve)\s+(?:weeks?|months?)"
    r")\b)"
)
_FOLLOW_UP = re.compile(
    r"^(?:It|They|This|These|That|Those|The\s+(?:feature|connector|capability|integration|"
    r"module|functionality|release))\b"
)


def _clause(text: str, sentence: Span, position: int) -> str:
    start, end = sentence
    for match in _CLAUSE_BREAK.finditer(text, start, end):
        if match.end() <= position:
            start = match.end()
        elif match.start() >= position:
            end = match.start()
            break
    return text[start:end]


def _overpromise(entry: RoadmapEntry, clause: str, question: bool) -> str | None:
    """Why this clause oversells the item, or None. A never item may only be declined (or
    asked about: "Do you need an on-premises system?")."""
    if _NEGATION.search(clause):
        return None
    if entry.status == "never" and not question:
        return "is described in a way that is not a decline"
    cue = _AVAILABLE.search(clause) or _COMMITTED.search(clause)
    if cue is None and not _DEVELOPMENT.search(clause):
        cue = _SOFT_AVAILABLE.search(clause)
    if cue is None and entry.status == "later":
        cue = _SPECULATIVE_COMMITMENT.search(clause) or DATE_EXPRESSION.search(clause)
    if cue is None:
        return None
    return f"is described as available or committed ('{cue.group()}')"


def _window_without_disclaimer(
    entry: RoadmapEntry, analysis: Analysis, index: int
) -> str | None:
    if entry.status != "next" or analysis.has_disclaimer:
        return None
    nearby = " ".join(analysis.sentence_text(i) for i in (index, index + 1)
                      if i < len(analysis.sentences))
    if (entry.window and entry.window.lower() in nearby.lower()) or DATE_EXPRESSION.search(nearby):
        return "has a date or window stated without the roadmap disclaimer"
    return None


def _violation(analysis: Analysis, index: int, entry: RoadmapEntry, reason: str) -> Violation:
    span = analysis.sentences[index]
    status = {"next": "next (not available yet)", "later": "later (uncertain, no date)",
              "never": "never (not planned)"}[entry.status]
    return Violation(RULE, span, analysis.text[span[0]:span[1]],
                     f"'{entry.title}' is on the roadmap as {status} and {reason}")


def _follow_up(analysis: Analysis, mentions: list[Mention]) -> list[Mention]:
    """'We're building X. It will ship in March.': the pronoun sentence is about X too."""
    extra = []
    by_sentence = {m.sentence for m in mentions}
    for mention in mentions:
        nxt = mention.sentence + 1
        single = len({m.entry.id for m in mentions if m.sentence == mention.sentence}) == 1
        if nxt < len(analysis.sentences) and nxt not in by_sentence and single \
                and _FOLLOW_UP.match(analysis.sentence_text(nxt)):
            start = analysis.sentences[nxt][0]
            extra.append(Mention(mention.entry, start, start, nxt))
    return extra


def check_roadmap(analysis: Analysis, ctx: GovernanceContext) -> list[Violation]:
    found: dict[tuple[int, str], Violation] = {}
    mentions = list(analysis.mentions)
    for mention in [*mentions, *_follow_up(analysis, mentions)]:
        index, entry = mention.sentence, mention.entry
        if analysis.approved[index] or (index, entry.id) in found:
            continue
        sentence = analysis.sentences[index]
        question = analysis.text[sentence[0]:sentence[1]].rstrip().endswith("?")
        reason = _overpromise(entry, _clause(analysis.text, sentence, mention.start), question)
        reason = reason or _window_without_disclaimer(entry, analysis, index)
        if reason:
            found[(index, entry.id)] = _violation(analysis, index, entry, reason)
    return list(found.values())
