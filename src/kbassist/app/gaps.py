"""The gaps report a product manager reads in the weekly sync.

What reps asked that the package couldn't answer (unknown, low-confidence and thumbs-down
questions) is clustered with the local embeddings; each cluster gets a representative
question, a count, when it was last seen, and a proposed owner and action. Questions about
next, later and never roadmap items are counted per item, by segment and persona.

How questions are compared: before embedding, the company and product names are dropped
(nearly every question has them, so they only add noise), and the direction shared by generic
question forms ("Can we do this?", "Is there an option for it?") is subtracted, so what is
left is mostly the topic. Clusters come from average-linkage agglomeration on cosine
similarity, stopping at ``DEFAULT_THRESHOLD`` (calibrated on evals/gaps/labelled_questions.yaml;
see tests/test_gaps.py). Redacted questions have no text: they group only by their keyed hash.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from math import comb
from typing import Any

import numpy as np

from kbassist.adapters.audit import REDACTED, AuditLog, as_utc, iso, utc_now
from kbassist.core.models import KnowledgePackage, RoadmapItem
from kbassist.core.ports import Embed, memoize_embed

DEFAULT_THRESHOLD = 0.275  # ARI 0.615, purity 0.875 on the labelled set; plateau 0.25-0.29
ROADMAP_NEAR = 0.53  # a cluster this close to a roadmap item's names is about that item
NEVER_REVISIT_AT = 5  # asks about a "never" item before we suggest revisiting the decision
MAX_EXAMPLES = 5
GAP_KINDS = ("unknown", "low_confidence", "thumbs_down")
OWNER_ROLES = ("product", "marketing", "sales")
UNSPECIFIED = "(unspecified)"

# Generic question forms: their mean embedding is the "this is a question" direction.
_GENERIC_QUESTIONS = (
    "Can we do this?", "Does it support that?", "Is there an option for it?", "What is it?",
    "How do we do it?", "Do you have one?", "Can the customer do that?", "Is it included?",
    "How does it work?", "What do we say about it?", "Does the product do this?",
    "Can it be done automatically?",
)

# What each owner role answers for; a cluster goes to the role whose topics are nearest.
_OWNER_TOPICS: dict[str, tuple[str, ...]] = {
    "product": (
        "Does the product have this feature or capability?",
        "Does it integrate with another software system or CRM?",
        "Technical question about reliability, backups, disaster recovery and data",
        "Accessibility of the app and screens",
        "Can the app do this for technicians or dispatchers?",
        "Can we report on this in the product?",
    ),
    "marketing": (
        "How do we compare with a competitor?",
        "Competitive battlecard against another vendor",
        "Analyst reports, awards, reviews and ratings",
        "Customer case study or reference story",
        "Proof points and statistics we can quote",
    ),
    "sales": (
        "Pricing, discounts and payment terms",
        "Billing, invoicing and currency",
        "Contract terms, renewal and cancellation",
        "Partner, reseller and referral programme",
        "Customer support hours and service level agreement",
        "How should a rep handle this objection in a deal?",
    ),
}

_ROLE_LABEL = {"product": "product", "marketing": "marketing", "sales": "sales enablement"}
_CLAIM_KIND_OWNER = {"pricing": "sales", "security": "product", "compliance": "product"}


# -- report types ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GapCluster:
    label: str  # the representative question (the cluster's medoid)
    count: int  # distinct outputs in the cluster
    first_seen: str
    last_seen: str
    examples: list[str]  # distinct questions, most frequent first
    kinds: dict[str, int]  # gap events by kind
    segments: dict[str, int]
    personas: dict[str, int]
    comments: list[str]  # thumbs-down comments
    owner: str  # product | marketing | sales | a document owner's name
    owner_name: str
    action: str


@dataclass(frozen=True)
class RoadmapDemand:
    item_id: str
    title: str
    status: str
    count: int
    last_seen: str
    segments: dict[str, int]
    personas: dict[str, int]
    owner: str
    owner_name: str
    action: str


@dataclass(frozen=True)
class GapsReport:
    generated_at: str
    since: str | None
    clusters: list[GapCluster]
    roadmap: list[RoadmapDemand]
    by_segment: dict[str, list[dict[str, Any]]]  # segment -> top requested items
    totals: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, like ``AskResult.to_json``."""
        return asdict(self)

    def dumps(self) -> str:
        """The text ``kbassist gaps --json`` prints."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    def to_csv(self) -> str:
        """One row per cluster (section "gap") and per roadmap item (section "roadmap")."""
        buffer = io.StringIO()
        columns = ["section", "rank", "topic", "status", "count", "last_seen", "kinds",
                   "segments", "personas", "owner", "owner_name", "action", "examples"]
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for rank, c in enumerate(self.clusters, 1):
            writer.writerow({
                "section": "gap", "rank": rank, "topic": c.label, "status": "",
                "count": c.count, "last_seen": c.last_seen, "kinds": _pairs(c.kinds),
                "segments": _pairs(c.segments), "personas": _pairs(c.personas),
                "owner": c.owner, "owner_name": c.owner_name, "action": c.action,
                "examples": " | ".join(c.examples)})
        for rank, r in enumerate(self.roadmap, 1):
            writer.writerow({
                "section": "roadmap", "rank": rank, "topic": f"{r.title} ({r.item_id})",
                "status": r.status, "count": r.count, "last_seen": r.last_seen,
                "kinds": "", "segments": _pairs(r.segments), "personas": _pairs(r.personas),
                "owner": r.owner, "owner_name": r.owner_name, "action": r.action,
                "examples": ""})
        return buffer.getvalue()

    def to_markdown(self) -> str:
        return "\n".join(_markdown(self)) + "\n"


# -- clustering and its evaluation -----------------------------------------------------------


def topic_vectors(texts: Sequence[str], embed: Embed, drop: Iterable[str] = ()) -> np.ndarray:
    """Embeddings that compare topics: names dropped, the generic-question direction removed."""
    names = sorted({n for n in drop if n}, key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b", re.I) if names else None

    def clean(text: str) -> str:
        stripped = pattern.sub(" ", text) if pattern else text
        return re.sub(r"\s+", " ", stripped).strip() or text

    vectors = np.asarray(embed([clean(t) for t in texts]), dtype=np.float64)
    generic = np.asarray(embed(list(_GENERIC_QUESTIONS)), dtype=np.float64).mean(axis=0)
    centred = vectors - generic
    return centred / np.clip(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12, None)


def cluster(
    vectors: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
    weights: Sequence[float] | None = None,
) -> list[int]:
    """Average-linkage clustering on cosine similarity (rows are unit vectors).

    Merges the two clusters with the highest mean pairwise similarity until it falls below
    ``threshold``; ``weights`` count repeated questions. Returns a cluster index per row,
    numbered by first appearance. O(n^3) in numpy: fine for a week of gaps (n < 2,000)."""
    n = len(vectors)
    if n == 0:
        return []
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    sums = (vectors @ vectors.T) * np.outer(w, w)
    owner = list(range(n))
    active = np.ones(n, dtype=bool)
    while active.sum() > 1:
        mean = sums / np.outer(w, w)
        mean[~active, :] = -np.inf
        mean[:, ~active] = -np.inf
        np.fill_diagonal(mean, -np.inf)
        i, j = (int(k) for k in np.unravel_index(int(np.argmax(mean)), mean.shape))
        if mean[i, j] < threshold:
            break
        sums[i, :] += sums[j, :]
        sums[:, i] += sums[:, j]
        w[i] += w[j]
        active[j] = False
        owner = [i if o == j else o for o in owner]
    numbering: dict[int, int] = {}
    return [numbering.setdefault(o, len(numbering)) for o in owner]


def adjusted_rand_index(predicted: Sequence[Any], truth: Sequence[Any]) -> float:
    """Hubert and Arabie's ARI: 1 for identical partitions, about 0 for chance agreement."""
    n = len(truth)
    pairs = sum(comb(c, 2) for c in Counter(zip(predicted, truth, strict=True)).values())
    pred_pairs = sum(comb(c, 2) for c in Counter(predicted).values())
    true_pairs = sum(comb(c, 2) for c in Counter(truth).values())
    expected = pred_pairs * true_pairs / comb(n, 2) if n > 1 else 0.0
    best = (pred_pairs + true_pairs) / 2
    return 1.0 if best == expected else (pairs - expected) / (best - expected)


def purity(predicted: Sequence[Any], truth: Sequence[Any]) -> float:
    """Share of items whose cluster's majority label is their own label."""
    majority = 0
    for label in set(predicted):
        members = Counter(t for p, t in zip(predicted, truth, strict=True) if p == label)
        majority += members.most_common(1)[0][1]
    return majority / len(truth) if truth else 1.0


# -- building the report ---------------------------------------------------------------------


@dataclass
class _Question:
    """One distinct question (by keyed hash) and every gap event it produced."""

    text: str
    key: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outputs(self) -> set[int]:
        return {e["output_id"] for e in self.events}


def gaps_report(
    log: AuditLog,
    package: KnowledgePackage,
    embed: Embed,
    *,
    since: datetime | date | None = None,
    now: datetime | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> GapsReport:
    events = log.gap_events(since)
    questions = _distinct_questions(e for e in events if e["kind"] in GAP_KINDS)
    owners = _Owners(package, embed)
    groups = _group(questions, owners, threshold)
    clusters = sorted(
        (_gap_cluster(members, centroid, owners) for members, centroid in groups),
        key=lambda c: (c.count, c.last_seen), reverse=True)
    roadmap = _roadmap_demand([e for e in events if e["kind"] == "roadmap_request"], package)
    start = as_utc(since)
    return GapsReport(
        generated_at=iso(now or utc_now()),
        since=iso(start) if start else None,
        clusters=clusters,
        roadmap=roadmap,
        by_segment=_by_segment(roadmap),
        totals={
            "gap_events": len(events),
            "outputs": len({e["output_id"] for e in events}),
            **{kind: sum(e["kind"] == kind for e in events)
               for kind in (*GAP_KINDS, "roadmap_request")},
        },
    )


def _distinct_questions(events: Iterable[dict[str, Any]]) -> list[_Question]:
    by_key: dict[str, _Question] = {}
    for event in events:
        text = event["question"] or ""
        key = event["question_hash"] or text
        if not key:
            continue
        by_key.setdefault(key, _Question(text, key)).events.append(event)
    return list(by_key.values())


class _Owners:
    """Who should act: the kb.yaml owners, and embeddings of their topics and the roadmap."""

    def __init__(self, package: KnowledgePackage, embed: Embed) -> None:
        self.package = package
        self.embed = memoize_embed(embed, maxsize=1 << 20)  # each text once per report
        self.names = package.config.owners
        self.drop = package_names(package)
        self._topics: dict[str, np.ndarray] | None = None
        self._roadmap: np.ndarray | None = None

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        return topic_vectors(texts, self.embed, self.drop)

    def name(self, role: str) -> str:
        return self.names.get(role, "")

    def nearest_role(self, centroid: np.ndarray) -> str:
        if self._topics is None:
            self._topics = {r: self.vectors(_OWNER_TOPICS[r]) for r in OWNER_ROLES}
        scores = {r: float((v @ centroid).max()) for r, v in self._topics.items()}
        return max(scores, key=lambda r: scores[r])

    def nearest_item(self, centroid: np.ndarray) -> tuple[RoadmapItem | None, float]:
        items = self.package.roadmap
        if not items:
            return None, 0.0
        if self._roadmap is None:
            self._roadmap = self.vectors([f"{i.title} ({', '.join(i.aliases)})" for i in items])
        sims = self._roadmap @ centroid
        best = int(np.argmax(sims))
        return items[best], float(sims[best])

    def of_source(self, source: str) -> tuple[str, str] | None:
        """(owner, name) for a cited id: claim, roadmap item, ICP entry or document.

        A document's owner is the role whose kb.yaml name it gives, else the name itself."""
        package = self.package
        claim = package.claim(source)
        if claim is not None:
            role = _CLAIM_KIND_OWNER.get(claim.kind, "marketing")
            return role, self.name(role)
        if package.roadmap_item(source) is not None:
            return "product", self.name("product")
        if package.segment(source) is not None or package.persona(source) is not None:
            return "sales", self.name("sales")
        document = package.document(source.split("#", 1)[0])
        if document is not None and document.owner:
            role = next((r for r, n in self.names.items() if n == document.owner), "")
            return role or document.owner, document.owner
        return None


def package_names(package: KnowledgePackage) -> tuple[str, ...]:
    """Names dropped before comparing questions: company, product, and the company's first
    word ('Halden'), which reps use on its own."""
    company, product = package.config.company, package.config.product
    first = company.split()[0] if company else ""
    return (company, product, *([first] if len(first) > 3 else []))


def _group(
    questions: Sequence[_Question], owners: _Owners, threshold: float
) -> list[tuple[list[_Question], np.ndarray | None]]:
    """Cluster questions with text; redacted ones group only by their hash."""
    readable = [q for q in questions if q.text and q.text != REDACTED]
    groups: list[tuple[list[_Question], np.ndarray | None]] = [
        ([q], None) for q in questions if q not in readable]
    if not readable:
        return groups
    vectors = owners.vectors([q.text for q in readable])
    labels = cluster(vectors, threshold)  # topics, not popularity: repeats don't weigh in
    for label in sorted(set(labels)):
        index = [i for i, lab in enumerate(labels) if lab == label]
        members = [readable[i] for i in index]
        weights = np.array([len(q.outputs) for q in members], dtype=np.float64)
        member_vectors = vectors[index]
        centroid = (member_vectors * weights[:, None]).sum(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        medoid = int(np.argmax((member_vectors @ member_vectors.T) @ weights))
        members.insert(0, members.pop(medoid))  # the representative question first
        groups.append((members, centroid))
    return groups


def _gap_cluster(
    members: list[_Question], centroid: np.ndarray | None, owners: _Owners
) -> GapCluster:
    events = [e for q in members for e in q.events]
    per_output = {e["output_id"]: e for e in events}
    stamps = sorted(e["ts"] for e in events)
    label = members[0].text if centroid is not None else f"{REDACTED} #{members[0].key[:8]}"
    by_frequency = sorted(members, key=lambda q: len(q.outputs), reverse=True)
    examples = [q.text for q in by_frequency if q.text != REDACTED][:MAX_EXAMPLES]
    comments = [e["comment"] for e in events if e["kind"] == "thumbs_down" and e["comment"]]
    owner, owner_name, action = _propose(label, events, centroid, owners)
    return GapCluster(
        label=label, count=len(per_output), first_seen=stamps[0], last_seen=stamps[-1],
        examples=examples,
        kinds=dict(Counter(e["kind"] for e in events).most_common()),
        segments=_counts(e["segment"] for e in per_output.values()),
        personas=_counts(e["persona"] for e in per_output.values()),
        comments=comments, owner=owner, owner_name=owner_name, action=action,
    )


def _propose(
    label: str, events: Sequence[dict[str, Any]], centroid: np.ndarray | None, owners: _Owners
) -> tuple[str, str, str]:
    """(owner, owner_name, action): fix a source reps rated down, teach the roadmap a new name, or
    hand the topic to the owner whose domain it is nearest."""
    downs = [e for e in events if e["kind"] == "thumbs_down"]
    outputs = {e["output_id"] for e in events}
    cited = Counter(c for e in {d["output_id"]: d for d in downs}.values()
                    for c in e.get("citations") or [])
    if 2 * len({d["output_id"] for d in downs}) >= len(outputs):
        for source, times in cited.most_common():
            found = owners.of_source(source)
            if found:
                owner, name = found
                return owner, name, (
                    f"{_ROLE_LABEL.get(owner, owner)}: review `{source}`, cited by {times} "
                    f"answer(s) reps rated down; correct it or add what's missing")
    if centroid is None:
        return "product", owners.name("product"), (
            f"product: triage these redacted questions (asked {len(outputs)} times)")
    item, similarity = owners.nearest_item(centroid)
    if item is not None and similarity >= ROADMAP_NEAR:
        return "product", owners.name("product"), (
            f"product: these questions look like roadmap item `{item.id}` ({item.status}) but "
            "weren't recognised; add the reps' wording to its aliases in roadmap.yaml")
    role = owners.nearest_role(centroid)
    actions = {
        "product": f"product: decide whether to add '{label}' to roadmap.yaml, or record a "
                   "'never' decision with the wording reps should use",
        "marketing": f"marketing: add an approved claim or messaging section about '{label}'",
        "sales": f"sales enablement: give reps approved guidance on '{label}' (pricing guide, "
                 "discovery call guide or an approved claim)",
    }
    return role, owners.name(role), actions[role]


def _roadmap_demand(
    events: Sequence[dict[str, Any]], package: KnowledgePackage
) -> list[RoadmapDemand]:
    by_item: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_item.setdefault(event["item_id"], []).append(event)
    owner = package.config.owners.get("product", "")
    demand = []
    for item_id, item_events in by_item.items():
        per_output = {e["output_id"]: e for e in item_events}
        item = package.roadmap_item(item_id)
        status = item.status if item else item_events[-1]["item_status"]
        segments = _counts(e["segment"] for e in per_output.values())
        demand.append(RoadmapDemand(
            item_id=item_id, title=item.title if item else item_id, status=status,
            count=len(per_output), last_seen=max(e["ts"] for e in item_events),
            segments=segments, personas=_counts(e["persona"] for e in per_output.values()),
            owner="product", owner_name=owner,
            action=_roadmap_action("product", status, len(per_output), segments),
        ))
    return sorted(demand, key=lambda d: (d.count, d.last_seen), reverse=True)


def _roadmap_action(who: str, status: str, count: int, segments: dict[str, int]) -> str:
    top = next((s for s in segments if s != UNSPECIFIED), None)
    where = f", mostly from {top}" if top else ""
    if status == "never":
        if count >= NEVER_REVISIT_AT:
            return (f"{who}: asked {count} times{where}: revisit the 'never' decision, or arm "
                    "reps with the decline wording and the available alternative")
        return f"{who}: arm reps with the decline wording (`say`) and the available alternative"
    if status == "later":
        return (f"{who}: {count} ask(s){where}: weigh as demand when prioritising; consider "
                "moving it to 'next'")
    if status == "next":
        return (f"{who}: {count} ask(s){where}: keep the window and `say` current; note these "
                "accounts for early access")
    return f"{who}: reps ask about it as if it were missing; check its `say` and aliases"


def _by_segment(roadmap: Sequence[RoadmapDemand], top: int = 3) -> dict[str, list[dict[str, Any]]]:
    table: dict[str, Counter[str]] = {}
    for demand in roadmap:
        for segment, count in demand.segments.items():
            table.setdefault(segment, Counter())[demand.item_id] += count
    titles = {d.item_id: d.title for d in roadmap}
    ordered = sorted(table.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    return {
        segment: [{"item_id": i, "title": titles[i], "count": c} for i, c in
                  counts.most_common(top)]
        for segment, counts in ordered
    }


def _counts(values: Iterable[str | None]) -> dict[str, int]:
    return dict(Counter(v or UNSPECIFIED for v in values).most_common())


def _pairs(counts: dict[str, int]) -> str:
    return "; ".join(f"{k}={v}" for k, v in counts.items())


# -- markdown ----------------------------------------------------------------------------------


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _owner(owner: str, name: str) -> str:
    return f"{owner} ({name})" if name and name != owner else owner


def _day(ts: str) -> str:
    return ts[:10]


def _markdown(report: GapsReport) -> list[str]:
    window = f"since {_day(report.since)}" if report.since else "all time"
    totals = report.totals
    lines = [
        "# Knowledge gaps and requests", "",
        f"Generated {report.generated_at[:16].replace('T', ' ')} UTC, {window}: "
        f"{totals.get('unknown', 0)} unknown, {totals.get('low_confidence', 0)} low-confidence, "
        f"{totals.get('thumbs_down', 0)} thumbs-down, {totals.get('roadmap_request', 0)} "
        "roadmap requests.", "",
        "## What reps asked that we couldn't answer", "",
    ]
    if not report.clusters:
        lines += ["No gaps in this window.", ""]
    else:
        lines += ["| # | Topic (representative question) | Count | Last seen | Owner | Action |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {n} | {_cell(c.label)} | {c.count} | {_day(c.last_seen)} | "
                  f"{_cell(_owner(c.owner, c.owner_name))} | {_cell(c.action)} |"
                  for n, c in enumerate(report.clusters, 1)]
        lines.append("")
        for n, c in enumerate(report.clusters, 1):
            lines += _cluster_detail(n, c)
    lines += _roadmap_markdown(report)
    return lines


def _cluster_detail(rank: int, c: GapCluster) -> list[str]:
    kinds = ", ".join(f"{k} {v}" for k, v in c.kinds.items())
    lines = [f"### {rank}. {c.label}", "",
             f"Asked {c.count} time(s) ({kinds}); first {_day(c.first_seen)}, last "
             f"{_day(c.last_seen)}. Segments: {_pairs(c.segments)}. Personas: "
             f"{_pairs(c.personas)}.", ""]
    lines += [f"- {q}" for q in c.examples]
    lines += [f"- thumbs-down: \"{comment}\"" for comment in c.comments[:MAX_EXAMPLES]]
    return [*lines, ""]


def _roadmap_markdown(report: GapsReport) -> list[str]:
    lines = ["## Roadmap requests", ""]
    if not report.roadmap:
        return [*lines, "No questions about next, later or never items in this window.", ""]
    lines += ["| Item | Status | Asked | Segments | Personas | Action |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {_cell(r.title)} (`{r.item_id}`) | {r.status} | {r.count} | "
              f"{_cell(_pairs(r.segments))} | {_cell(_pairs(r.personas))} | {_cell(r.action)} |"
              for r in report.roadmap]
    lines += ["", "### Top requested roadmap items by segment", ""]
    for segment, items in report.by_segment.items():
        listed = ", ".join(f"{i['title']} ({i['count']})" for i in items)
        lines.append(f"- **{segment}**: {listed}")
    return [*lines, ""]

