"""Issue #16 point 4: every R4 string/markdown element is covered by a rule or reviewed in docs/privacy-review.md."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest

from anonymizer.fhir.free_text import TextElement, planted, text_elements
from tests.privacy.profiles import KEEP_NOTES, ROOT, STRICT, anonymize, engines

PLANTED = "Planted text, call 617-555-0199"
_ROW = re.compile(r"^\| `(?P<element>[A-Za-z]+\.(?:[A-Za-z]+|\*))` \| (?P<where>[^|]+) \|")


def _review_table() -> dict[str, frozenset[str] | None]:
    """Reviewed element -> resource types it is reviewed for (``None``: everywhere)."""
    rows: dict[str, frozenset[str] | None] = {}
    for line in (ROOT / "docs" / "privacy-review.md").read_text().splitlines():
        m = _ROW.match(line)
        if m:
            where = m.group("where").strip()
            rows[m.group("element")] = (
                None if where == "*" else frozenset(w.strip() for w in where.split(","))
            )
    return rows


def _survivors() -> list[TextElement]:
    fast, _tree = engines(STRICT)
    # survival of the words, not of the whole value: partial redactions (ZIP3) change digits only
    return [e for e in text_elements() if "Planted text" in json.dumps(fast.anonymize(planted(e, PLANTED)))]


def test_every_text_element_the_strict_profile_keeps_is_reviewed() -> None:
    table = _review_table()
    assert len(table) > 50
    unreviewed: list[str] = []
    used: dict[str, set[str]] = defaultdict(set)
    for element in _survivors():
        for key in (element.owner, f"{element.resource_type}.*"):
            if key in table and (table[key] is None or element.resource_type in table[key]):
                used[key].add(element.resource_type)
                break
        else:
            unreviewed.append(f"{element.owner} at {element.path}")
    assert not unreviewed, f"text elements neither covered by a rule nor reviewed: {unreviewed[:20]}"
    stale = sorted(set(table) - set(used))
    assert not stale, f"docs/privacy-review.md reviews elements the profile now removes or R4 lacks: {stale}"


@pytest.mark.parametrize(
    "path",
    [("DocumentReference", "description"), ("MedicationRequest", "dosageInstruction", "text"),
     ("MedicationRequest", "dosageInstruction", "patientInstruction"), ("Immunization", "lotNumber"),
     ("MedicationStatement", "dosage", "text"), ("DocumentManifest", "description")],
)  # fmt: skip
@pytest.mark.parametrize("profile", [STRICT, KEEP_NOTES])
def test_text_the_red_team_found_is_removed_or_scrubbed(profile: str, path: tuple[str, ...]) -> None:
    element = TextElement(path[0], path[1:], "", "string")
    out = json.dumps(anonymize(profile, planted(element, PLANTED)))
    assert "617-555-0199" not in out
    if profile == STRICT:
        assert "Planted text" not in out
