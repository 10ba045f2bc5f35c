"""What changed between two versions of a knowledge package, written for reps.

``diff_packages(old, new)`` compares two loaded packages: claims added, removed, reworded or
re-scoped; roadmap status moves with what to stop or start saying; new and removed
objections; proof points that expired (or will within 30 days); documents added, changed or
removed. ``KnowledgeDiff.to_markdown()`` is the digest reps read, ``to_json()`` feeds
notifications.

The versions come from ``adapters.git_versions.export_version`` (a folder or a git ref).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from kbassist.core.models import PROOF_KINDS, Claim, KnowledgePackage, RoadmapItem

EXPIRING_DAYS = 30
_SCOPE_FIELDS = ("kind", "personas", "segments", "customer", "pillar", "expires")


@dataclass
class KnowledgeDiff:
    old: dict[str, str]
    new: dict[str, str]
    claims_added: list[dict[str, Any]] = field(default_factory=list)
    claims_removed: list[dict[str, Any]] = field(default_factory=list)
    claims_reworded: list[dict[str, Any]] = field(default_factory=list)
    claims_rescoped: list[dict[str, Any]] = field(default_factory=list)
    roadmap_moves: list[dict[str, Any]] = field(default_factory=list)
    roadmap_added: list[dict[str, Any]] = field(default_factory=list)
    roadmap_removed: list[dict[str, Any]] = field(default_factory=list)
    roadmap_reworded: list[dict[str, Any]] = field(default_factory=list)
    objections_added: list[dict[str, Any]] = field(default_factory=list)
    objections_removed: list[dict[str, Any]] = field(default_factory=list)
    expired_proof_points: list[dict[str, Any]] = field(default_factory=list)
    expiring_proof_points: list[dict[str, Any]] = field(default_factory=list)
    documents: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [
            _count(len(self.roadmap_moves), "roadmap move"),
            _count(len(self.claims_added), "new claim"),
            _count(len(self.claims_reworded), "reworded claim"),
            _count(len(self.claims_removed), "removed claim"),
            _count(len(self.objections_added), "new objection"),
            _count(len(self.expired_proof_points), "expired proof point"),
        ]
        shown = [p for p in parts if p]
        return ", ".join(shown) if shown else "no changes reps need to know about"

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old, "new": self.new, "summary": self.summary(),
            "claims": {"added": self.claims_added, "removed": self.claims_removed,
                       "reworded": self.claims_reworded, "rescoped": self.claims_rescoped},
            "roadmap": {"moved": self.roadmap_moves, "added": self.roadmap_added,
                        "removed": self.roadmap_removed, "reworded": self.roadmap_reworded},
            "objections": {"added": self.objections_added, "removed": self.objections_removed},
            "expired_proof_points": self.expired_proof_points,
            "expiring_proof_points": self.expiring_proof_points,
            "documents": self.documents,
        }

    def to_markdown(self) -> str:
        return render_markdown(self)


def _count(n: int, noun: str) -> str:
    return "" if not n else f"{n} {noun}{'' if n == 1 else 's'}"


# -- comparing -------------------------------------------------------------------------------


def diff_packages(old: KnowledgePackage, new: KnowledgePackage, *, old_label: str = "old",
                  new_label: str = "new", old_as_of: date | None = None,
                  today: date | None = None) -> KnowledgeDiff:
    """``old_as_of``: the date the old version stood for (a commit's date), so proof points
    that expired since then are reported; ``today`` is the new version's date."""
    today = today or date.today()
    result = KnowledgeDiff(
        old={"label": old_label, "kb_version": old.kb_version},
        new={"label": new_label, "kb_version": new.kb_version},
    )
    _diff_claims(result, old, new)
    _diff_roadmap(result, old, new)
    _diff_objections(result, old, new)
    _proof_points(result, old, new, old_as_of or today, today)
    _diff_documents(result, old, new)
    return result


def _claim_json(claim: Claim) -> dict[str, Any]:
    return {"id": claim.id, "kind": claim.kind, "text": claim.text,
            "expires": claim.expires.isoformat() if claim.expires else None}


def _diff_claims(result: KnowledgeDiff, old: KnowledgePackage, new: KnowledgePackage) -> None:
    before = {c.id: c for c in old.claims}
    after = {c.id: c for c in new.claims}
    result.claims_added = [_claim_json(c) for i, c in after.items() if i not in before]
    result.claims_removed = [_claim_json(c) for i, c in before.items() if i not in after]
    for ident in [i for i in after if i in before]:
        was, now = before[ident], after[ident]
        if " ".join(was.text.split()) != " ".join(now.text.split()):
            result.claims_reworded.append({"id": ident, "kind": now.kind, "old": was.text,
                                           "new": now.text})
        changes = {name: {"old": _plain(getattr(was, name)), "new": _plain(getattr(now, name))}
                   for name in _SCOPE_FIELDS if getattr(was, name) != getattr(now, name)}
        if changes:
            result.claims_rescoped.append({"id": ident, "text": now.text, "changes": changes})


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def advice(item: RoadmapItem, was: RoadmapItem) -> str:
    """What a rep should stop or start saying when an item changes status."""
    title, old, new = item.title, was.status, item.status
    moved = f"{title} moved from {old} to {new}"
    if new == "available":
        return f"{moved}: you can now sell it as working today."
    if old == "available":
        return (f"{moved}: stop selling it as available; it is not in the product today. "
                f"Say: \"{_say(item)}\"")
    if new == "never":
        return f"{moved}: it is no longer planned; decline it and steer to what is available. " \
               f"Say: \"{_say(item)}\""
    if old == "next" and new == "later":
        window = f"stop mentioning {was.window}; " if was.window else ""
        return f"{moved}: {window}it is no longer committed. Say: \"{_say(item)}\""
    if new == "next":
        window = f" (planned window {item.window})" if item.window else ""
        return (f"{moved}{window}: it is committed now; mention it only with the approved "
                f"wording and the roadmap disclaimer. Say: \"{_say(item)}\"")
    return f"{moved}. Say: \"{_say(item)}\""


def _say(item: RoadmapItem) -> str:
    return " ".join((item.say or f"{item.title} is available today.").split())


def _diff_roadmap(result: KnowledgeDiff, old: KnowledgePackage, new: KnowledgePackage) -> None:
    before = {i.id: i for i in old.roadmap}
    after = {i.id: i for i in new.roadmap}
    result.roadmap_added = [{"id": i.id, "title": i.title, "status": i.status,
                             "window": i.window, "say": i.say}
                            for k, i in after.items() if k not in before]
    result.roadmap_removed = [{"id": i.id, "title": i.title, "status": i.status}
                              for k, i in before.items() if k not in after]
    for ident in [k for k in after if k in before]:
        was, now = before[ident], after[ident]
        if was.status != now.status:
            result.roadmap_moves.append({
                "id": ident, "title": now.title, "from": was.status, "to": now.status,
                "window_from": was.window, "window_to": now.window, "advice": advice(now, was)})
        elif now.status == "next" and was.window != now.window:
            result.roadmap_moves.append({
                "id": ident, "title": now.title, "from": was.status, "to": now.status,
                "window_from": was.window, "window_to": now.window,
                "advice": f"{now.title}: the planned window moved from {was.window or 'none'} "
                          f"to {now.window or 'none'}; stop mentioning {was.window}."
                          if was.window else f"{now.title} now has a planned window "
                          f"{now.window}; mention it only with the roadmap disclaimer."})
        if " ".join((was.say or "").split()) != " ".join((now.say or "").split()):
            result.roadmap_reworded.append({"id": ident, "title": now.title,
                                            "old": was.say, "new": now.say})


def _objections(package: KnowledgePackage) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for persona in package.personas:
        for objection in persona.objections:
            key = (persona.id, " ".join(objection.objection.split()))
            found[key] = {"persona": persona.id, "objection": objection.objection,
                          "answer_claims": list(objection.answer_claims)}
    return found


def _diff_objections(result: KnowledgeDiff, old: KnowledgePackage,
                     new: KnowledgePackage) -> None:
    before, after = _objections(old), _objections(new)
    result.objections_added = [v for k, v in after.items() if k not in before]
    result.objections_removed = [v for k, v in before.items() if k not in after]


def _proof_points(result: KnowledgeDiff, old: KnowledgePackage, new: KnowledgePackage,
                  old_as_of: date, today: date) -> None:
    before = {c.id: c for c in old.claims}
    soon = today + timedelta(days=EXPIRING_DAYS)
    for claim in new.claims:
        if claim.kind not in PROOF_KINDS or claim.expires is None:
            continue
        was = before.get(claim.id)
        usable_before = was is not None and not was.is_expired(old_as_of)
        if claim.is_expired(today) and usable_before:
            result.expired_proof_points.append(_claim_json(claim))
        elif not claim.is_expired(today) and claim.expires <= soon:
            result.expiring_proof_points.append(_claim_json(claim))


def _diff_documents(result: KnowledgeDiff, old: KnowledgePackage,
                    new: KnowledgePackage) -> None:
    before = {d.path: d.sha256 for d in old.documents}
    after = {d.path: d.sha256 for d in new.documents}
    result.documents = {
        "added": sorted(p for p in after if p not in before),
        "removed": sorted(p for p in before if p not in after),
        "changed": sorted(p for p in after if p in before and before[p] != after[p]),
    }


# -- Markdown --------------------------------------------------------------------------------


def render_markdown(diff: KnowledgeDiff) -> str:
    lines = ["# What changed in the knowledge package", "",
             f"{diff.old['label']} (kb `{diff.old['kb_version']}`) → {diff.new['label']} "
             f"(kb `{diff.new['kb_version']}`): {diff.summary()}.", ""]
    lines += _section("Roadmap", [m["advice"] for m in diff.roadmap_moves]
                      + [f"New on the roadmap: **{i['title']}** ({i['status']})."
                         for i in diff.roadmap_added]
                      + [f"Removed from the roadmap: {i['title']} (was {i['status']}); don't "
                         "mention it." for i in diff.roadmap_removed]
                      + [f"New approved wording for **{i['title']}**: \"{_flat(i['new'])}\""
                         for i in diff.roadmap_reworded])
    lines += _section("New claims you can use", [f"`{c['id']}` ({c['kind']}): {c['text']}"
                                                  for c in diff.claims_added])
    lines += _section("Reworded claims", [f"`{c['id']}`: now \"{c['new']}\" (was \"{c['old']}\")"
                                          for c in diff.claims_reworded])
    lines += _section("Removed claims: stop using them",
                      [f"`{c['id']}`: {c['text']}" for c in diff.claims_removed])
    lines += _section("Claims with a new scope or expiry", [
        f"`{c['id']}`: " + "; ".join(f"{name} {_show(v['old'])} → {_show(v['new'])}"
                                     for name, v in c["changes"].items())
        for c in diff.claims_rescoped])
    lines += _section("Expired proof points: stop using them",
                      [f"`{c['id']}` (expired {c['expires']}): {c['text']}"
                       for c in diff.expired_proof_points])
    lines += _section(f"Proof points expiring within {EXPIRING_DAYS} days",
                      [f"`{c['id']}` (expires {c['expires']}): {c['text']}"
                       for c in diff.expiring_proof_points])
    lines += _section("New objections and their answers",
                      [f"{o['persona']}: \"{o['objection']}\" → answer with "
                       f"{', '.join(o['answer_claims']) or '(no claims yet)'}"
                       for o in diff.objections_added])
    lines += _section("Objections removed", [f"{o['persona']}: \"{o['objection']}\""
                                             for o in diff.objections_removed])
    docs = diff.documents
    lines += _section("Documents", [f"{kind}: {', '.join(paths)}" for kind, paths in docs.items()
                                    if paths])
    return "\n".join(lines).rstrip() + "\n"


def _section(title: str, items: list[str]) -> list[str]:
    return [f"## {title}", "", *(f"- {i}" for i in items), ""] if items else []


def _flat(text: str | None) -> str:
    return " ".join((text or "").split())


def _show(value: Any) -> str:
    if value in (None, [], ""):
        return "none"
    return ", ".join(value) if isinstance(value, list) else str(value)
