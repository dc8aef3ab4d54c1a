"""Free-text scrubbing for the ``scrubText`` method: contextual + pattern detection, XHTML, base64 notes.

Pure Python (no Spark import). See docs/text-scrubbing.md.
"""

from __future__ import annotations

from anonymizer.text.dates import DateParts
from anonymizer.text.identifiers import (
    PatientIdentifiers,
    collect_identifiers,
    collect_identifiers_json,
    merge,
)
from anonymizer.text.scrubber import (
    PLACEHOLDERS,
    DatePolicy,
    ScrubResult,
    TextScrubber,
    placeholder_dates,
    shifted,
    year_only,
)

__all__ = [
    "PLACEHOLDERS",
    "DateParts",
    "DatePolicy",
    "PatientIdentifiers",
    "ScrubResult",
    "TextScrubber",
    "collect_identifiers",
    "collect_identifiers_json",
    "merge",
    "placeholder_dates",
    "shifted",
    "year_only",
]
