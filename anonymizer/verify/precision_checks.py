"""Per-config precision checks on the research zone: dates, ages over 89, ZIP codes.

What the config *promises* is read from its rules and parameters (Microsoft's format):

* dates: ``year`` when a ``redact`` rule covers dates and ``enablePartialDatesForRedact`` is on, ``removed``
  when it is off, ``shifted`` for ``dateShift`` without such a redact rule, ``kept`` otherwise;
* ZIP codes: ``zip3`` when a ``redact`` rule covers addresses/postal codes with
  ``enablePartialZipCodesForRedact``, ``removed`` without it, ``kept`` otherwise;
* ages: with a year or removed date promise, no age over 89 and no birth year that proves one.

Only resources about an individual are checked (a person type or a row with a ``patient_key``); the
same rules say nothing about a hospital's founding date or a clinic's ZIP code.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from anonymizer.config.lint.safe_harbor import RESTRICTED_ZIP3
from anonymizer.verify.candidates import decode_attachment, is_free_text_path
from anonymizer.verify.normalize import date_tokens

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from anonymizer.config.model import AnonymizerConfig

_DATE_VALUE_RE = re.compile(r"^(\d{4})(-(\d{2})(-(\d{2})(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?$")
_DATE_RULE_RE = re.compile(
    r"date|instant|period|birth|deceased|onset|effective|issued|authored|recorded|performed|occurrence|age",
    re.I,
)
_ZIP_RULE_RE = re.compile(r"address|postalcode", re.I)
_AGE_UNITS = frozenset({"a", "yr", "yrs", "year", "years", "ann"})


@dataclass(frozen=True)
class Promises:
    """What a config promises about dates, ZIP codes and ages."""

    dates: str  # year | removed | shifted | kept
    zip: str  # zip3 | removed | kept
    ages: bool
    restricted_zip3: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"dates": self.dates, "zip": self.zip, "ages_over_89_removed": self.ages,
                "restricted_zip3": list(self.restricted_zip3)}  # fmt: skip


def promises_from_config(config: AnonymizerConfig) -> Promises:
    """Read the promises from the config's ``redact``/``dateShift`` rules and parameters.

    A ZIP3 promise checks the config's restricted prefixes, or Safe Harbor's list when the config has none
    (the engine then keeps every prefix, which Safe Harbor does not allow for these areas).
    """
    params = config.parameters
    redact_paths = [r.path or r.json_path or "" for r in config.rules if r.method == "redact"]
    shift = any(r.method == "dateshift" for r in config.rules)
    redacts_dates = any(_DATE_RULE_RE.search(p) for p in redact_paths)
    if redacts_dates:
        dates = "year" if params.partial_dates else "removed"
    else:
        dates = "shifted" if shift else "kept"
    if any(_ZIP_RULE_RE.search(p) for p in redact_paths):
        zip_promise = "zip3" if params.partial_zip else "removed"
    else:
        zip_promise = "kept"
    restricted = params.restricted_zip_prefixes or RESTRICTED_ZIP3
    return Promises(dates, zip_promise, dates in ("year", "removed"), tuple(restricted))


@dataclass
class PrecisionResult:
    """Violations per check, resource type and path (counts only) and the date-precision histogram."""

    promises: Promises
    violations: list[dict[str, Any]] = field(default_factory=list)
    date_precision: dict[str, int] = field(default_factory=dict)
    images: int = 0
    decades_out: dict[str, int] = field(default_factory=dict)
    decades_source: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Number of violating values."""
        return sum(v["count"] for v in self.violations)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see docs/verify.md, ``precision``)."""
        return {"promises": self.promises.to_dict(), "violations": self.violations,
                "violation_count": self.total, "date_precision": self.date_precision,
                "images_in_person_data": self.images,
                "date_decades": {"source": self.decades_source, "output": self.decades_out}}  # fmt: skip


def check_resource(resource: dict[str, Any], promises: Promises, as_of: date) -> Counter[tuple[str, str]]:
    """Counter of ``(check, path)`` findings of one person-linked resource.

    ``check`` is a violation code (``date_precision``, ``date_in_text``, ``age_over_89``,
    ``birth_year_over_89``, ``zip_not_3_digits``, ``zip_restricted_prefix``, ``zip_present``, ``image``)
    or ``precision:<level>`` for the histogram.
    """
    out: Counter[tuple[str, str]] = Counter()
    rtype = str(resource.get("resourceType", "Unknown"))
    _walk(resource, rtype, "", promises, as_of, out)
    return out


def _walk(obj: Any, path: str, key: str, p: Promises, as_of: date, out: Counter[tuple[str, str]]) -> None:
    if isinstance(obj, dict):
        _check_object(obj, path, p, out)
        for k, v in obj.items():
            if k == "data" and isinstance(v, str):
                text = decode_attachment(v, obj.get("contentType"))
                if text is not None and p.dates in ("year", "removed"):
                    for _ in date_tokens(text):
                        out[("date_in_text", f"{path}.{k}")] += 1
                continue
            _walk(v, f"{path}.{k}", k, p, as_of, out)
    elif isinstance(obj, list):
        for element in obj:
            _walk(element, path, key, p, as_of, out)
    elif isinstance(obj, str):
        _check_string(obj, path, key, p, as_of, out)


def _check_string(
    value: str, path: str, key: str, p: Promises, as_of: date, out: Counter[tuple[str, str]]
) -> None:
    match = _DATE_VALUE_RE.match(value)
    if match:
        level = (
            "time" if match.group(6) else "day" if match.group(5) else "month" if match.group(3) else "year"
        )
        out[(f"precision:{level}", path)] += 1
        out[(f"decade:{match.group(1)[:3]}0s", "")] += 1
        if (p.dates == "year" and level != "year") or p.dates == "removed":
            out[("date_precision", path)] += 1
        # a published year alone must not imply more than 89: born 1936, as of 2026, reads as 90
        if key == "birthDate" and p.ages and as_of.year - int(match.group(1)) > 89:
            out[("birth_year_over_89", path)] += 1
    elif p.dates in ("year", "removed") and is_free_text_path(path):
        for _ in date_tokens(value):
            out[("date_in_text", path)] += 1
    if key == "postalCode":
        _check_zip(value, path, p, out)


def _check_zip(value: str, path: str, p: Promises, out: Counter[tuple[str, str]]) -> None:
    if p.zip == "removed":
        out[("zip_present", path)] += 1
        return
    digits = re.sub(r"\D", "", value)
    if p.zip != "zip3" or len(digits) <= 3:
        return
    if digits[:3] in p.restricted_zip3:
        out[("zip_restricted_prefix", path)] += 1
    elif set(digits[3:]) - {"0"}:
        out[("zip_not_3_digits", path)] += 1


def _check_object(obj: dict[str, Any], path: str, p: Promises, out: Counter[tuple[str, str]]) -> None:
    value = obj.get("value")
    if p.ages and isinstance(value, (int, float)) and not isinstance(value, bool):
        unit = str(obj.get("code") or obj.get("unit") or "").lower()
        if unit in _AGE_UNITS and value > 89:
            out[("age_over_89", path + ".value")] += 1
    content_type = str(obj.get("contentType") or "").lower()
    is_media = content_type.startswith(("image/", "video/", "audio/")) or path.endswith(".photo")
    if is_media and (obj.get("data") or obj.get("url")):
        out[("image", path)] += 1


def date_decades(resource: dict[str, Any]) -> Counter[str]:
    """Date values of one resource counted by decade of their year (``1970s``)."""
    out: Counter[str] = Counter()

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            for value in obj.values():
                walk(value)
        elif isinstance(obj, list):
            for value in obj:
                walk(value)
        elif isinstance(obj, str) and len(obj) >= 4 and obj[:4].isdigit():
            match = _DATE_VALUE_RE.match(obj)
            if match:
                out[f"{match.group(1)[:3]}0s"] += 1

    walk(resource)
    return out


def precision_from_records(source: DataFrame, output: DataFrame, promises: Promises) -> PrecisionResult:
    """Aggregate the output pass's ``precision`` records (:func:`check_resource` of every row about an
    individual) and the source pass's ``decade`` records (the "before" side of the decades chart)."""
    from pyspark.sql import functions as F

    found = (
        output.where(F.col("rec") == "precision").groupBy("kind", "rtype", "path").agg(F.sum("n").alias("n"))
    )
    totals = sorted(((r["kind"], r["rtype"], r["path"]), int(r["n"])) for r in found.collect())
    result = PrecisionResult(promises)
    for (check, rtype, path), count in totals:
        if check.startswith("decade:"):
            decade = check.split(":", 1)[1]
            result.decades_out[decade] = result.decades_out.get(decade, 0) + count
        elif check.startswith("precision:"):
            level = check.split(":", 1)[1]
            result.date_precision[level] = result.date_precision.get(level, 0) + count
        else:
            if check == "image":
                result.images += count
            result.violations.append({"check": check, "resource_type": rtype, "path": path, "count": count})
    decades = source.where(F.col("rec") == "decade").groupBy("norm").agg(F.sum("n").alias("n")).collect()
    result.decades_source = dict(sorted((r["norm"], int(r["n"])) for r in decades))
    return result
