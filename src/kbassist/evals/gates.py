"""Gates: thresholds on metrics, read from a YAML file (``evals/gates.yaml``).

```yaml
gates:
  - metric: internal_leaks
    max: 0
    why: an internal roadmap note must never reach a rep
  - metric: retrieval_hit_at_5
    min: 0.9
```

A gate whose metric has no value (the suite has no cases of that kind) is skipped, not
failed, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kbassist.core.errors import UsageError
from kbassist.core.yaml_lines import YamlProblem, line_of, load_yaml, strip_lines


class GateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    min: float | None = None
    max: float | None = None
    name: str | None = None
    why: str = ""
    backends: list[str] = Field(default_factory=list,
                                description="only for these backends (empty: every backend)")

    @model_validator(mode="after")
    def _one_bound(self) -> GateSpec:
        if (self.min is None) == (self.max is None):
            raise ValueError("a gate needs exactly one of min or max")
        return self


@dataclass(frozen=True)
class GateResult:
    name: str
    metric: str
    op: str
    threshold: float
    value: float | None
    passed: bool
    why: str = ""

    @property
    def skipped(self) -> bool:
        return self.value is None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "metric": self.metric, "op": self.op,
                "threshold": self.threshold, "value": self.value, "passed": self.passed,
                "skipped": self.skipped, "why": self.why}


def load_gates(path: Path) -> list[GateSpec]:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the gates file ({exc.strerror})") from exc
    except YamlProblem as exc:
        raise UsageError(f"{path}:{exc.line}: {exc.message}") from exc
    raws = data.get("gates") if isinstance(data, dict) else None
    if not isinstance(raws, list):
        raise UsageError(f"{path}:1: a gates file is a mapping with a 'gates:' list")
    specs = []
    for raw in raws:
        try:
            specs.append(GateSpec.model_validate(strip_lines(raw)))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise UsageError(f"{path}:{line_of(raw)}: gate: {first.get('msg')}") from exc
    return specs


def evaluate_gates(specs: list[GateSpec], metrics: dict[str, Any],
                   backend: str) -> list[GateResult]:
    results = []
    for spec in specs:
        if spec.backends and backend not in spec.backends:
            continue
        if spec.metric not in metrics:
            raise UsageError(f"gate on unknown metric '{spec.metric}' (known: "
                             f"{', '.join(k for k, v in metrics.items() if _numeric(v))})")
        value = metrics[spec.metric]
        op, threshold = (">=", spec.min) if spec.min is not None else ("<=", spec.max)
        assert threshold is not None
        passed = value is None or (value >= threshold if op == ">=" else value <= threshold)
        name = spec.name or f"{spec.metric} {op} {threshold:g}"
        results.append(GateResult(name, spec.metric, op, threshold, value, passed, spec.why))
    return results


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) or value is None
