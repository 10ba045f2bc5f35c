"""The governance engine: every output a rep may send stays inside the approved claims.

Pure core (stdlib, pydantic models, numpy); embeddings are injected as a callable.
See docs/governance.md for the rules, the normalisation of numbers and the policy.
"""

from kbassist.core.governance.check import check
from kbassist.core.governance.context import GovernanceContext
from kbassist.core.governance.policy import GovernedOutput, govern
from kbassist.core.governance.repair import Repair, repair
from kbassist.core.governance.support import (
    DEFAULT_LEXICAL_THRESHOLD,
    DEFAULT_SUPPORT_THRESHOLD,
    SupportPolicy,
)
from kbassist.core.governance.types import RULES, Verdict, Violation

__all__ = [
    "DEFAULT_LEXICAL_THRESHOLD",
    "DEFAULT_SUPPORT_THRESHOLD",
    "RULES",
    "GovernanceContext",
    "GovernedOutput",
    "Repair",
    "SupportPolicy",
    "Verdict",
    "Violation",
    "check",
    "govern",
    "repair",
]
