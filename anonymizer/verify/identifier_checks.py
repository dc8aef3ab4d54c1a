"""Identifier-shape checks on the research zone: what the red team of issue #16 found and value matching missed.

Each finding is counted per check, resource type and path (never the value):

- ``dicom_uid`` (category R): a DICOM/ISO OID-shaped UID (``1.2.840.99999999.1.29099167.1588766265703``)
  outside the standard roots (DICOM ``1.2.840.10008``, HL7 ``2.16.840.1.113883``) and outside ``2.25.``, the
  UUID root our keyed ``hashFormat: dicomUid`` pseudonyms use; an image archive links such a UID back.
- ``id_in_text`` (R), ``ssn_in_text`` (F), ``age_in_text`` (C): identifier shapes in free text that the text
  recognizers know (signed or separated long numbers, an SSN's last four after a label, ages over 89 at a
  sentence end or in words); in clean strict output there is no free text, in keep-notes output the scrubber
  has replaced them.
- ``zip_4_digits`` (B): under a ZIP3 promise, a ZIP that lost its leading zero (``3600``: four real digits,
  and the restricted list was never applied); resource types whose address the config keeps are exempt.
- ``age_over_89`` (C): Age/Quantity values over 89 years written in months, weeks or days (years are checked
  by :mod:`precision_checks`).

Runs inside verify's output pass (:mod:`anonymizer.verify.passes`), aggregated with a ``groupBy``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from anonymizer.verify.candidates import is_free_text_path, resource_values
from anonymizer.verify.precision_checks import Promises

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from anonymizer.config.model import AnonymizerConfig

_UID = re.compile(r"^(?:urn:oid:)?(?P<uid>[0-2](?:\.(?:0|[1-9]\d*)){4,})$")
#: Roots of UIDs that name a standard thing (a SOP class, an HL7 code system), or our keyed pseudonyms.
EXEMPT_UID_ROOTS = ("1.2.840.10008.", "2.16.840.1.113883.", "2.25.")
_TEXT_CHECKS = {"ID": "id_in_text", "SSN": "ssn_in_text", "AGE": "age_in_text"}
_SHORT_ZIP = re.compile(r"^\d{3,4}(?:-\d{4})?$")
#: Age units other than years, and the value that is 90 years in them.
_AGE_OVER_89_IN = {"mo": 1080, "month": 1080, "months": 1080, "wk": 4693, "week": 4693, "weeks": 4693,
                   "d": 32873, "day": 32873, "days": 32873}  # fmt: skip
CHECK_CATEGORY = {
    "dicom_uid": "R",
    "id_in_text": "R",
    "ssn_in_text": "F",
    "age_in_text": "C",
    "zip_4_digits": "B",
}


def address_keeping_types(config: AnonymizerConfig) -> frozenset[str]:
    """Resource types whose ``address`` a ``keep`` rule keeps whole (``Organization.address``): ZIPs exempt."""
    return frozenset(
        r.path.split(".", 1)[0]
        for r in config.rules
        if r.method == "keep" and r.path and re.fullmatch(r"[A-Z][A-Za-z]+\.address", r.path)
    )


def check_resource(
    resource: dict[str, Any], promises: Promises, zip_exempt: frozenset[str] = frozenset()
) -> Counter[tuple[str, str]]:
    """Counter of ``(check, path)`` findings of one research-zone resource."""
    from anonymizer.text.patterns import find_patterns

    out: Counter[tuple[str, str]] = Counter()
    rtype = str(resource.get("resourceType", "Unknown"))
    for path, value in resource_values(resource):
        if not isinstance(value, str):
            continue
        m = _UID.match(value) if len(value) < 80 else None
        if m and not m.group("uid").startswith(EXEMPT_UID_ROOTS):
            out[("dicom_uid", path)] += 1
        elif is_free_text_path(path):
            for found in find_patterns(value, frozenset(_TEXT_CHECKS)):
                out[(_TEXT_CHECKS[found.category], path)] += 1
    if promises.zip == "zip3" and rtype not in zip_exempt:
        _walk_zips(resource, rtype, out)
    if promises.ages:
        _walk_ages(resource, rtype, out)
    return out


def _walk_zips(obj: Any, path: str, out: Counter[tuple[str, str]]) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "postalCode" and isinstance(value, (str, int)) and not isinstance(value, bool):
                if _SHORT_ZIP.match(str(value)):
                    out[("zip_4_digits", f"{path}.{key}")] += 1
            else:
                _walk_zips(value, f"{path}.{key}", out)
    elif isinstance(obj, list):
        for value in obj:
            _walk_zips(value, path, out)


def _walk_ages(obj: Any, path: str, out: Counter[tuple[str, str]]) -> None:
    if isinstance(obj, dict):
        value = obj.get("value")
        unit = str(obj.get("code") or obj.get("unit") or "").lower()
        limit = _AGE_OVER_89_IN.get(unit)
        if limit and isinstance(value, (int, float)) and not isinstance(value, bool) and value >= limit:
            out[("age_over_89", f"{path}.value")] += 1
        for key, child in obj.items():
            _walk_ages(child, f"{path}.{key}", out)
    elif isinstance(obj, list):
        for child in obj:
            _walk_ages(child, path, out)


def identifier_findings(output: DataFrame) -> list[dict[str, Any]]:
    """Violations (``check``, ``resource_type``, ``path``, ``count``) from the output pass's ``ident`` records
    (:func:`check_resource` of every research-zone row)."""
    from pyspark.sql import functions as F

    found = (
        output.where(F.col("rec") == "ident").groupBy("kind", "rtype", "path").agg(F.sum("n").alias("count"))
    )
    return [
        {"check": r["kind"], "resource_type": r["rtype"], "path": r["path"], "count": int(r["count"])}
        for r in sorted(found.collect(), key=lambda r: (r["kind"], r["rtype"], r["path"]))
    ]
