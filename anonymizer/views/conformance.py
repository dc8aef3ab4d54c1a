"""Run the SQL on FHIR v2 conformance suite (its JSON test files) and write the implementers' report.

A test passes when the view is refused (``expectError``), yields exactly the expected columns in order
(``expectColumns``), or yields the expected rows as a multiset (``expect``; numbers compared to 1e-9).
Each file runs as one batch (:func:`anonymizer.views.runner.evaluate_many`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anonymizer.spark.resource_format import JSON
from anonymizer.views.errors import ViewDefinitionError, ViewEvaluationError
from anonymizer.views.runner import evaluate_many
from anonymizer.views.validate import parse_view

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one test case."""

    file: str
    title: str
    tags: tuple[str, ...]
    passed: bool
    reason: str | None = None


def _normalize(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return round(float(value), 9) if math.isfinite(value) else str(value)
    if isinstance(value, list):
        return tuple(_normalize(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _normalize(v)) for k, v in value.items()))
    return value


def _rows_key(rows: list[dict[str, Any]]) -> Counter:
    return Counter(_normalize(row) for row in rows)


def judge(case: dict[str, Any], outcome: list[dict[str, Any]] | Exception) -> tuple[bool, str | None]:
    """Whether one case passed, and why not."""
    if case.get("expectError"):
        if isinstance(outcome, ViewDefinitionError | ViewEvaluationError):
            return True, None
        return False, "the view was accepted but an error was expected"
    if isinstance(outcome, Exception):
        return False, f"{type(outcome).__name__}: {outcome}"
    if "expectColumns" in case:
        columns = [c.name for c in parse_view(case["view"]).columns()]
        if columns != case["expectColumns"]:
            return False, f"columns {columns} != expected {case['expectColumns']}"
        return True, None
    expected = case.get("expect", [])
    if _rows_key(outcome) != _rows_key(expected):
        return False, f"{len(outcome)} rows differ from the {len(expected)} expected"
    return True, None


def run_file(path: Path, spark: SparkSession, resource_format: str = JSON) -> list[CaseResult]:
    """Every case of one test file, evaluated in one batch over the resources stored as ``resource_format``."""
    suite = json.loads(path.read_text(encoding="utf-8"))
    cases = suite["tests"]
    views = [c["view"] for c in cases]
    outcomes = evaluate_many(views, suite.get("resources", []), spark=spark, resource_format=resource_format)
    results = []
    for case, outcome in zip(cases, outcomes, strict=True):
        passed, reason = judge(case, outcome)
        results.append(CaseResult(path.name, case["title"], tuple(case.get("tags", [])), passed, reason))
    return results


def run_suite(tests_dir: Path, spark: SparkSession, resource_format: str = JSON) -> list[CaseResult]:
    """Every case of every ``*.json`` file in ``tests_dir`` (sorted by file name)."""
    results: list[CaseResult] = []
    for path in sorted(tests_dir.glob("*.json")):
        results += run_file(path, spark, resource_format)
    return results


def report(results: list[CaseResult]) -> dict[str, Any]:
    """The implementers' report: ``{file: {"tests": [{"name", "result": {"passed", "reason"?}}]}}``."""
    out: dict[str, Any] = {}
    for r in results:
        result: dict[str, Any] = {"passed": r.passed}
        if r.reason:
            result["reason"] = r.reason
        out.setdefault(r.file, {"tests": []})["tests"].append({"name": r.title, "result": result})
    return out


def tally(results: list[CaseResult]) -> str:
    """One line per tag: passed / total."""
    lines = []
    for tag in sorted({t for r in results for t in r.tags} | {"all"}):
        chosen = [r for r in results if tag == "all" or tag in r.tags]
        lines.append(f"{tag}: {sum(r.passed for r in chosen)}/{len(chosen)} passed")
    return "\n".join(lines)
