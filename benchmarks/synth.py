"""Synthetic knowledge packages of a given size, for `make bench`.

A package is the sample package (so its claims, roadmap, ICP and eval questions stay
valid) plus generated material: more approved claims, more roadmap items, and many
reference documents (playbooks, case studies, release notes, FAQs) written from word banks
so that the text reads like sales collateral, with front matter (owner, personas,
segments, review dates). Generation is deterministic for a given size and seed, and the
chunk count lands within a few percent of the target (one section is about one chunk).

    python benchmarks/synth.py 10000 benchmarks/data/kb-10k
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SECTIONS_PER_DOC = 20
CLAIM_SHARE = 50  # one generated claim per this many chunks
ROADMAP_SHARE = 500  # one generated roadmap item per this many chunks

INDUSTRIES = ["HVAC service", "lift maintenance", "fire and life safety", "facilities management",
              "building automation", "commercial refrigeration", "electrical contracting",
              "water treatment", "security systems", "pest control", "solar maintenance"]
CUSTOMERS = ["Ardent", "Bellweather", "Cobalt Ridge", "Dunmore", "Eastgate", "Fairholm",
             "Granite Peak", "Harrow", "Ironbridge", "Juniper", "Kestrel", "Larkspur",
             "Marlow", "Northwind", "Oakhaven", "Pennant", "Quarry Lane", "Redfern"]
SUFFIXES = ["Mechanical", "Facilities", "Services", "Engineering", "Group", "Maintenance"]
FEATURES = ["skills-based dispatch", "route-aware scheduling", "the offline technician app",
            "live re-planning", "parts reservation", "asset history", "SLA tracking",
            "customer portal", "compliance certificates", "timesheet capture",
            "van stock management", "quote-to-job conversion", "ERP sync", "job costing",
            "planned maintenance contracts", "reactive call handling", "photo evidence",
            "digital job sheets", "subcontractor portal", "capacity planning"]
PAINS = ["return visits that eat into margin", "dispatchers juggling spreadsheets",
         "missed SLA windows", "technicians arriving without the right parts",
         "paper job sheets that arrive days late", "overtime to clear the backlog",
         "audit findings on expired certificates", "invoices held up by missing evidence",
         "no view of who is free this afternoon", "customers chasing arrival times"]
OUTCOMES = ["first-time fix rate", "jobs per technician per day", "invoice cycle time",
            "SLA compliance", "drive time per job", "overtime hours", "audit readiness",
            "customer satisfaction", "dispatcher workload", "parts availability"]
ROLES = ["operations director", "service manager", "dispatch lead", "finance director",
         "IT director", "compliance lead", "regional manager", "field supervisor"]
VERBS = ["reduces", "improves", "shortens", "simplifies", "protects", "raises", "tracks",
         "automates", "standardises", "exposes"]
CONNECTORS = ["In practice,", "For most teams,", "During the pilot,", "After rollout,",
              "Across regions,", "On a typical day,", "When demand spikes,", "Over a quarter,"]
DOC_TYPES = [("playbook", "Sales playbook"), ("case-study", "Case study"),
             ("release-notes", "Release notes"), ("faq", "FAQ"),
             ("battlecard", "Competitive battlecard"), ("onboarding", "Onboarding guide")]
SECTION_TITLES = ["Overview", "The challenge", "What changed", "Results", "How it works",
                  "Objections", "Discovery questions", "Implementation", "Security",
                  "Pricing conversation", "Integration", "Next steps", "Proof points",
                  "Common pitfalls", "Rollout plan", "Training", "Reporting", "Support",
                  "Governance", "Summary"]
CLAIM_KINDS = ["value", "differentiator", "proof", "stat", "security", "compliance"]
STATUSES = ["available", "next", "later", "never"]


def _sentence(rng: random.Random) -> str:
    feature, pain, outcome = rng.choice(FEATURES), rng.choice(PAINS), rng.choice(OUTCOMES)
    role, verb, industry = rng.choice(ROLES), rng.choice(VERBS), rng.choice(INDUSTRIES)
    templates = [
        f"{rng.choice(CONNECTORS)} {feature} {verb} {pain} for {industry} teams.",
        f"The {role} usually asks how {feature} affects {outcome}, and the honest answer "
        f"depends on how the team plans work today.",
        f"Teams in {industry} report {pain} as the first problem they want to solve.",
        f"{rng.choice(CONNECTORS)} the {role} tracked {outcome} weekly and shared it with "
        f"the regional offices.",
        f"Start the conversation with {pain}, then show how {feature} fits the existing "
        f"process without a big-bang migration.",
        f"Keep {feature} switched on for every depot so that {outcome} can be compared "
        f"like for like.",
    ]
    return rng.choice(templates)


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _customer(rng: random.Random) -> str:
    return f"{rng.choice(CUSTOMERS)} {rng.choice(SUFFIXES)}"


def _document(rng: random.Random, number: int, personas: list[str], segments: list[str]
              ) -> tuple[str, str]:
    slug, label = rng.choice(DOC_TYPES)
    customer = _customer(rng)
    title = f"{label}: {customer} and {rng.choice(FEATURES)} ({number})"
    front = {
        "title": title,
        "owner": f"{rng.choice(['Ana', 'Ben', 'Chen', 'Dara', 'Eli'])} ({rng.choice(ROLES)})",
        "personas": sorted(rng.sample(personas, rng.randint(0, 2))),
        "segments": sorted(rng.sample(segments, rng.randint(0, 1))),
        "approved_on": "2026-01-15",
        "review_by": "2028-01-15",
    }
    parts = ["---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "", f"# {title}", ""]
    for heading in SECTION_TITLES[:SECTIONS_PER_DOC]:
        parts += [f"## {heading}", "", _paragraph(rng, rng.randint(5, 8)), ""]
    return f"{slug}-{number:06d}.md", "\n".join(parts)


def _claims(rng: random.Random, count: int, personas: list[str], segments: list[str]
            ) -> list[dict[str, object]]:
    claims = []
    for n in range(count):
        feature, outcome, industry = rng.choice(FEATURES), rng.choice(OUTCOMES), \
            rng.choice(INDUSTRIES)
        claims.append({
            "id": f"synthetic-claim-{n:05d}",
            "text": f"For {industry} teams, {feature} {rng.choice(VERBS)} {outcome} "
                    f"without changing how technicians log their work.",
            "kind": rng.choice(CLAIM_KINDS),
            "personas": sorted(rng.sample(personas, rng.randint(0, 2))),
            "segments": sorted(rng.sample(segments, rng.randint(0, 1))),
            "approved_by": ["product", "marketing", "sales"],
        })
    return claims


def _roadmap(rng: random.Random, count: int) -> list[dict[str, object]]:
    items = []
    for n in range(count):
        status = rng.choice(STATUSES)
        item: dict[str, object] = {
            "id": f"synthetic-roadmap-{n:04d}",
            "title": f"{rng.choice(FEATURES).capitalize()} for {rng.choice(INDUSTRIES)} "
                     f"release {n}",
            "status": status,
            "aliases": [f"synthetic feature {n}"],
        }
        if status != "available":
            item["say"] = ("We're exploring this as a future capability; it isn't available "
                           "today and has no committed date.")
        if status == "next":
            item["window"] = "2027 H2"
        items.append(item)
    return items


def generate(chunks: int, out: Path, seed: int = 7) -> Path:
    """Write a package of about ``chunks`` chunks to ``out`` (replaced if it exists)."""
    rng = random.Random(f"{seed}-{chunks}")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(REPO / "knowledge", out, ignore=shutil.ignore_patterns("samples"))
    icp = yaml.safe_load((out / "icp.yaml").read_text(encoding="utf-8"))
    personas = [p["id"] for p in icp["personas"]]
    segments = [s["id"] for s in icp["segments"]]
    base = 127  # what the sample package chunks into
    extra_claims = max(0, chunks // CLAIM_SHARE)
    extra_roadmap = max(0, chunks // ROADMAP_SHARE)
    documents = max(0, (chunks - base - extra_claims - extra_roadmap)) // SECTIONS_PER_DOC
    for name, key, items in (("claims.yaml", "claims",
                              _claims(rng, extra_claims, personas, segments)),
                             ("roadmap.yaml", "items", _roadmap(rng, extra_roadmap))):
        data = yaml.safe_load((out / name).read_text(encoding="utf-8"))
        data[key].extend(items)
        (out / name).write_text(yaml.safe_dump(data, sort_keys=False, width=200),
                                encoding="utf-8")
    folder = out / "reference" / "synthetic"
    for start in range(0, documents, 500):  # 500 files per folder keeps listings fast
        sub = folder / f"part-{start // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        for number in range(start, min(documents, start + 500)):
            name, text = _document(rng, number, personas, segments)
            (sub / name).write_text(text, encoding="utf-8")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(generate(int(argv[0]), Path(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
