"""RFP and security-questionnaire spreadsheets: spreadsheet in, answered spreadsheet out.

The answer function belongs to the caller (retrieval + governance); this module owns the IO
around it, which has to survive what real questionnaires do to a tool:

* odd layouts: title rows above the header, a question column called "Requirement" or
  "Query", semicolon CSVs from a European Excel, the questions on the second sheet;
* long runs that get interrupted: every answered row is appended to a journal keyed by the
  input's bytes, its question column and the kb_version, so a rerun resumes where it stopped
  and a finished run's rerun answers nothing again;
* hostile or broken files: a PNG renamed .xlsx, a binary .csv, an oversized export, and cells
  a spreadsheet would run as formulas (OWASP "CSV injection") in the input we echo or in answers.

OUT is written only after every row has an answer, through a temporary file in the same folder
and ``os.replace``, so a failure never leaves a half-written OUT or disturbs an older one.

Output columns: the input's columns, in order, then ``answer``, ``sources``, ``confidence``,
``needs_review``, ``review_reason``, ``status`` and ``kb_version``. Two cases reuse a column
instead of appending one: an existing answer column ("Answer", "Vendor response", ...) that is
empty in every row is filled in place (a non-empty one is the vendor's own work and is kept
as it is, with ``answer`` appended), and an input that already has all seven columns (a previous
kbassist output fed back in) is updated in place. Any other name clash gets a " (kbassist)"
suffix, so no header is ever duplicated.
"""

from kbassist.adapters.questionnaire.journal import (
    JOURNAL_FOLDER,
    JOURNAL_MAX_AGE_DAYS,
    Journal,
    journal_header,
    journal_path,
)
from kbassist.adapters.questionnaire.read import (
    MAX_INPUT_BYTES,
    OUTPUT_COLUMNS,
    READ_SUFFIXES,
    Questionnaire,
    parse,
    read_bytes,
    read_questionnaire,
)
from kbassist.adapters.questionnaire.write import (
    FORMULA_PREFIXES,
    Layout,
    csv_safe,
    is_formula_like,
    plan_columns,
    write_answered,
)

__all__ = [
    "FORMULA_PREFIXES", "JOURNAL_FOLDER", "JOURNAL_MAX_AGE_DAYS", "MAX_INPUT_BYTES",
    "OUTPUT_COLUMNS", "READ_SUFFIXES", "Journal", "Layout", "Questionnaire", "csv_safe",
    "is_formula_like", "journal_header", "journal_path", "parse", "plan_columns", "read_bytes",
    "read_questionnaire", "write_answered",
]
