"""Everything the rules need from one package on one date, computed once per package version.

Checking then only scans the output text: approved numbers are a set of canonical keys,
roadmap names a token index, internal notes shingle sets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from kbassist.core.governance import numbers
from kbassist.core.governance.links import package_urls
from kbassist.core.governance.names import COMMON_CAPITALISED, OrgKey, org_key, proper_name_keys
from kbassist.core.governance.roadmap_names import NameIndex, build_index
from kbassist.core.governance.support import SupportPolicy
from kbassist.core.models import KnowledgePackage, RoadmapItem
from kbassist.core.ports import Embed
from kbassist.core.roadmap_policy import name_regex
from kbassist.core.text import (
    STOPWORDS,
    WORD_RE,
    content_stems,
    shingles,
    stem,
    stems,
    wording_set,
)


@dataclass(frozen=True)
class RoadmapEntry:
    id: str
    title: str
    status: str
    window: str
    say: str
    numbers: frozenset[numbers.Key]  # figures its own say/window state
    say_wording: frozenset[str]


@dataclass(frozen=True)
class ExpiredClaim:
    id: str
    stems: frozenset[str]
    numbers: frozenset[numbers.Key]  # figures no approved claim states
    customer: str
    customer_pattern: re.Pattern[str] | None


VECTOR_CACHE_LIMIT = 20000  # cached sentence embeddings per context (about 30 MB)

# A sentence leaks an internal note when it shares this many 3-word shingles with it; the
# system prompt and other extra_internal texts need one more (role phrases are echoed).
NOTE_MIN_SHINGLES = 2
EXTRA_MIN_SHINGLES = 3


@dataclass(frozen=True)
class InternalSource:
    label: str
    shingles: frozenset[tuple[str, ...]]
    rare: frozenset[str]  # capitalised mid-sentence in the note: flagged anywhere
    initial_rare: frozenset[str]  # only seen starting a sentence: flagged mid-sentence
    min_shingles: int


@dataclass(frozen=True, eq=False)
class GovernanceContext:
    """Precomputed from one package and one date; see ``from_package``."""

    company: str
    product: str
    today: date
    disclaimer: str
    unknown_answer: str
    own_names: tuple[OrgKey, ...]
    approved_numbers: frozenset[numbers.Key]
    number_name_mask: re.Pattern[str] | None
    roadmap: tuple[RoadmapEntry, ...]
    roadmap_names: NameIndex
    approved_customers: tuple[OrgKey, ...]
    expired_customers: tuple[OrgKey, ...]
    public_names: frozenset[OrgKey]
    common_words: frozenset[str]
    banned: tuple[tuple[str, re.Pattern[str]], ...]
    expired: tuple[ExpiredClaim, ...]
    approved_claim_stems: tuple[frozenset[str], ...]
    approved_claims: dict[str, str]
    internal: tuple[InternalSource, ...]
    approved_wording: frozenset[str]
    disclaimer_stems: frozenset[str]
    approved_urls: frozenset[str] = frozenset()  # normalised URLs the public package uses
    embed: Embed | None = None
    support: SupportPolicy = SupportPolicy()
    vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def from_package(
        cls,
        package: KnowledgePackage,
        today: date,
        *,
        embed: Embed | None = None,
        extra_internal: Sequence[str] = (),
        support_threshold: float | None = None,
    ) -> GovernanceContext:
        config = package.config
        approved = package.approved_claims(today)
        expired = package.expired_claims(today)
        public = _public_texts(package, today)
        named = public[: len(public) - len(package.documents)]  # names: not from documents
        common = lowercase_vocabulary([*public, *(c.text for c in expired)])
        approved_numbers = numbers.quantity_keys([c.text for c in approved]) | _icp_numbers(
            package
        ) | _window_numbers(package.roadmap)
        customers = tuple(org_key(c.customer) for c in approved if c.customer)
        approved_text = " ".join(
            [c.text for c in approved]
            + [n for i in package.roadmap if i.status == "available" for n in i.names]
        )
        return cls(
            company=config.company,
            product=config.product,
            today=today,
            disclaimer=config.policy.roadmap_disclaimer,
            unknown_answer=config.policy.unknown_answer,
            own_names=(org_key(config.company), org_key(config.product)),
            approved_numbers=approved_numbers,
            number_name_mask=_names_with_digits(package),
            roadmap=tuple(_roadmap_entry(i) for i in package.roadmap if i.status != "available"),
            roadmap_names=build_index(package.roadmap, approved_text),
            approved_customers=customers,
            expired_customers=tuple(
                org_key(c.customer) for c in expired if c.customer and org_key(c.customer)
                not in customers
            ),
            public_names=proper_name_keys(named, common),
            common_words=common,
            banned=tuple((p, banned_pattern(p)) for p in config.voice.banned_phrases if p.strip()),
            expired=tuple(_expired_claim(c.text, c.id, c.customer, approved_numbers, customers)
                          for c in expired),
            approved_claim_stems=tuple(frozenset(content_stems(c.text)) for c in approved),
            approved_claims={c.id: c.text for c in approved},
            internal=_internal_sources(package, extra_internal, public),
            approved_wording=wording_set(
                [config.policy.roadmap_disclaimer, config.policy.unknown_answer,
                 *(i.say or "" for i in package.roadmap)]
            ),
            disclaimer_stems=frozenset(content_stems(config.policy.roadmap_disclaimer)),
            approved_urls=package_urls(_link_sources(public, package)),
            embed=embed,
            support=SupportPolicy() if support_threshold is None else SupportPolicy(
                cosine=support_threshold),
        )

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings with a per-context cache: evidence sentences repeat across answers.
        Safe to call from several threads (the cache is only a cache)."""
        assert self.embed is not None
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        found = {t: v for t in texts if (v := self.vectors.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            vectors = np.asarray(self.embed(missing), dtype=np.float32)
            found.update(zip(missing, vectors, strict=True))
            if len(self.vectors) > VECTOR_CACHE_LIMIT:
                self.vectors.clear()
            self.vectors.update(zip(missing, vectors, strict=True))
        return np.vstack([found[t] for t in texts])


# -- builders --------------------------------------------------------------------------------


def _public_texts(package: KnowledgePackage, today: date) -> list[str]:
    """What may be shown: approved claims, roadmap public text, ICP, documents, kb.yaml."""
    config = package.config
    texts = [config.company, config.product, config.summary, config.policy.roadmap_disclaimer,
             config.policy.unknown_answer, *config.owners.values()]
    texts += [c.text for c in package.approved_claims(today)]
    texts += [i.public_text() for i in package.roadmap]
    texts += [s.public_text() for s in package.segments]
    texts += [p.public_text() for p in package.personas]
    return [*texts, *(d.title + "\n" + d.text for d in package.documents)]  # documents last


def _link_sources(public: list[str], package: KnowledgePackage) -> list[str]:
    """Texts whose URLs an output may repeat: everything public but reference documents, which
    may quote third parties (and are where an indirect injection would plant its link)."""
    named = public[: len(public) - len(package.documents)]
    return named + [d.title + "\n" + d.text for d in package.documents if d.kind != "reference"]


def lowercase_vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Words the package uses in lowercase: ordinary words, not names."""
    found: set[str] = set()
    for text in texts:
        found.update(w.lower() for w in WORD_RE.findall(text) if w[:1].islower())
    return frozenset(found | {stem(w) for w in found})


def _icp_numbers(package: KnowledgePackage) -> frozenset[numbers.Key]:
    keys: set[numbers.Key] = set()
    for segment in package.segments:
        if segment.employees is None:
            continue
        for bound in (segment.employees.min, segment.employees.max):
            if bound is not None:
                keys.add(("count", numbers.significant(float(bound))))
    return frozenset(keys)


def _window_numbers(items: Iterable[RoadmapItem]) -> frozenset[numbers.Key]:
    """A year inside a next item's window is not a claim number."""
    return numbers.quantity_keys([i.window for i in items if i.status == "next" and i.window])


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    bodies = sorted({b for b in (name_regex(n) for n in names) if b}, key=len, reverse=True)
    return re.compile("|".join(bodies), re.IGNORECASE) if bodies else None


def _roadmap_entry(item: RoadmapItem) -> RoadmapEntry:
    texts = [item.say or ""] + ([item.window] if item.status == "next" and item.window else [])
    return RoadmapEntry(
        id=item.id,
        title=item.title,
        status=item.status,
        window=(item.window or "") if item.status == "next" else "",
        say=(item.say or "").strip(),
        numbers=numbers.quantity_keys(texts),
        say_wording=wording_set([item.say or ""]),
    )


def _names_with_digits(package: KnowledgePackage) -> re.Pattern[str] | None:
    """Names such as 'Dynamics 365' or 'Acme 360': their digits are not figures."""
    config = package.config
    names = [config.company, config.product]
    names += [n for i in package.roadmap for n in i.names]
    names += [c.customer for c in package.claims if c.customer]
    with_digits = [n for n in names if any(ch.isdigit() for ch in n)]
    return _names_pattern(with_digits)


def banned_pattern(phrase: str) -> re.Pattern[str]:
    """Word boundaries, case-insensitive, hyphen/space tolerant, simple inflections."""
    tokens = [re.escape(t) for t in re.split(r"[\s\-‐]+", phrase.strip()) if t]
    body = r"[\s\-‐]+".join(tokens)
    if phrase.strip()[-1:].isalpha():
        body += r"(?:s|es|d|ed|ing)?"
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def _expired_claim(
    text: str, claim_id: str, customer: str | None,
    approved_numbers: frozenset[numbers.Key], customers: tuple[OrgKey, ...],
) -> ExpiredClaim:
    own = numbers.quantity_keys([text])
    distinctive = frozenset(k for k in own if k not in approved_numbers)
    pattern = None
    if customer and org_key(customer) not in customers:
        body = name_regex(" ".join(org_key(customer)))
        pattern = re.compile(body, re.IGNORECASE) if body else None
    return ExpiredClaim(claim_id, frozenset(content_stems(text)), distinctive, customer or "",
                        pattern)


def _rare_words(text: str, public_vocabulary: frozenset[str]) -> tuple[set[str], set[str]]:
    """Proper nouns of a note that the public package never uses (codenames, partners):
    those capitalised mid-sentence, and those only seen at the start of a sentence."""
    rare: set[str] = set()
    initial: set[str] = set()
    for match in WORD_RE.finditer(text):
        word = match.group().removesuffix("'s").removesuffix("’s")
        letters = [c for c in word if c.isalpha()]
        shouting = len(letters) > 1 and all(c.isupper() for c in letters)
        if (not word[:1].isupper() or shouting or len(word) < 4
                or word.lower() in public_vocabulary or word.lower() in COMMON_CAPITALISED):
            continue
        before = text[: match.start()].rstrip()
        (initial if not before or before[-1] in ".!?:;" else rare).add(word)
    return rare, initial - rare


def _internal_sources(
    package: KnowledgePackage, extra: Sequence[str], public: Sequence[str]
) -> tuple[InternalSource, ...]:
    labelled = [(f"the internal note of roadmap item '{i.id}'", i.internal, NOTE_MIN_SHINGLES)
                for i in package.roadmap if i.internal]
    notes = len(labelled)
    labelled += [(f"internal instructions #{n + 1}", t, EXTRA_MIN_SHINGLES)
                 for n, t in enumerate(extra) if t.strip()]
    if not labelled:
        return ()
    wanted = {s for _, text, _ in labelled for s in shingles(stems(text))
              if not all(w in STOPWORDS for w in s)}
    for text in public:  # what the package says publicly is not a leak
        wanted.difference_update(shingles(stems(text)))
    vocabulary = frozenset(w.lower() for t in public for w in WORD_RE.findall(t))
    sources = []
    for n, (label, text, minimum) in enumerate(labelled):
        # Rare words mark a note (codenames); instructions' capitalised words are ordinary
        # ("Write", "Subject"), so extra_internal texts are matched on phrases only.
        rare, initial = _rare_words(text, vocabulary) if n < notes else (set(), set())
        sources.append(InternalSource(
            label=label,
            shingles=frozenset(s for s in shingles(stems(text)) if s in wanted),
            rare=frozenset(rare),
            initial_rare=frozenset(initial),
            min_shingles=minimum,
        ))
    return tuple(sources)
