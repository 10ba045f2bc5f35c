"""Benchmark questions generated from any package: claims, roadmap names, ICP, and unknowns."""

from __future__ import annotations

from itertools import cycle, islice

from kbassist.core.models import KnowledgePackage

UNKNOWN = [
    "What is the office wifi password?",
    "Who won the football match last night?",
    "Can you recommend a good pizza place near the office?",
    "What's the weather forecast for tomorrow?",
    "How many moons does Jupiter have?",
]


def questions_for(package: KnowledgePackage, count: int = 200) -> list[str]:
    asked: list[str] = []
    for claim in package.claims:
        words = claim.text.split()
        asked.append(f"What can we say about {' '.join(words[:6]).rstrip('.,')}?")
    for item in package.roadmap:
        asked.append(f"Do you have {item.title.lower()}?")
        asked.extend(f"Is {alias} available?" for alias in item.aliases[:1])
    for segment in package.segments:
        asked.append(f"Is a company in {segment.name.lower()} a good fit?")
    for persona in package.personas:
        asked.extend(o.objection for o in persona.objections[:1])
    asked.extend(UNKNOWN)
    return list(islice(cycle(asked), count))
