"""Build small, valid knowledge packages in a temp folder; tests override one file at a time."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from textwrap import dedent

from kbassist.adapters.embeddings import MiniLMEmbedder
from kbassist.app.assistant import Assistant
from kbassist.app.settings import Settings
from kbassist.app.wiring import build_assistant

KB_YAML = """\
company: Nordlicht Robotics
product: Nordlicht Fleet
summary: Fleet management for warehouse robots.
voice:
  tone: [plain, specific]
  banned_phrases: ["guarantee", "best-in-class"]
  sign_off: "Best,\\n{rep_name}"
policy:
  roadmap_disclaimer: "Roadmap items are plans, not commitments, and can change."
  unknown_answer: "That isn't covered in our approved material yet; I've logged it."
"""

CLAIMS_YAML = """\
claims:
  - id: per-robot-pricing
    text: "Nordlicht Fleet is priced per robot per month, with no upfront licence fee."
    kind: pricing
  - id: uptime-stat
    text: "Fleet controllers ran at 99.9% availability across customers last year."
    kind: stat
    expires: 2030-01-01
  - id: picking-speed
    text: "Customers see picking throughput rise by 27% within the first quarter."
    kind: stat
    personas: [ops-director]
  - id: harbor-logistics-story
    text: "Harbor Logistics cut robot downtime in half after moving to Nordlicht Fleet."
    kind: customer
    customer: Harbor Logistics
    segments: [third-party-logistics]
  - id: old-award
    text: "Nordlicht Fleet won the 2019 Warehouse Innovation Award."
    kind: proof
    expires: 2020-01-01
  - id: sso-support
    text: "Nordlicht Fleet supports single sign-on with SAML and enforces MFA for admins."
    kind: security
"""

ROADMAP_YAML = """\
items:
  - id: fleet-map
    title: Live fleet map
    status: available
  - id: battery-forecast
    title: Battery health forecasting
    status: next
    window: "2031 Q3"
    say: "Battery health forecasting is in development; it isn't available today."
    aliases: [battery prediction]
  - id: drone-inventory
    title: Drone inventory scanning
    status: later
    say: "We're exploring drone inventory scanning; it isn't available today and has no date."
    internal: "Zephyrquill pilot stalled pending the Obsidianmoor partnership."
    aliases: [inventory drones]
  - id: on-prem
    title: On-premises deployment
    status: never
    say: >-
      We don't offer an on-premises deployment; Nordlicht Fleet runs as a managed cloud service.
    aliases: [self-hosted]
"""

ICP_YAML = """\
segments:
  - id: third-party-logistics
    name: Third-party logistics providers
    industries: [logistics]
    employees: {min: 200, max: 20000}
    regions: [EU]
    pains: ["robots idle during peaks"]
    disqualifiers: ["fewer than ten robots"]
personas:
  - id: ops-director
    name: Operations Director
    titles: [Director of Operations]
    cares_about: ["throughput"]
    objections:
      - objection: "Is it expensive?"
        answer_claims: [per-robot-pricing]
"""

MESSAGING_MD = """\
---
title: Positioning
owner: Marketing
review_by: 2030-01-01
---
# Positioning

Nordlicht Fleet keeps warehouse robots busy.

## Pricing

Nordlicht Fleet is priced per robot per month.
"""

FILES = {
    "kb.yaml": KB_YAML,
    "claims.yaml": CLAIMS_YAML,
    "roadmap.yaml": ROADMAP_YAML,
    "icp.yaml": ICP_YAML,
    "messaging/positioning.md": MESSAGING_MD,
}


def make_package(root: Path, overrides: dict[str, str | None] | None = None) -> Path:
    """Write a valid package to ``root``; an override of None deletes that file."""
    files: dict[str, str | None] = {**FILES, **(overrides or {})}
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        if text is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")
    return root


def indexed_ui_assistant(root: Path, today: date) -> Assistant:
    """An app-channel assistant over this package with a fresh index (the UI tests' subject)."""
    settings = Settings(kb=make_package(root / "kb"), data_dir=root / "data")
    assistant = build_assistant(settings, embedder=MiniLMEmbedder(), today=today, channel="ui")
    assistant.reindex()
    return assistant
