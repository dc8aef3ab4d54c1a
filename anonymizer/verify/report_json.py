"""``report.json``: the machine-readable verification report (stable schema, see docs/verify.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Bump the major part on any incompatible change (removed/renamed key or changed meaning).
SCHEMA_VERSION = (
    "1.2"  # 1.1: "history" added; 1.2: exemption reasons, exempt_words, inputs.config_fingerprint
)

#: Top-level keys, in order; every report has all of them.
TOP_LEVEL_KEYS = (
    "schema_version",
    "tool",
    "generated_at",
    "contains_identifying_values",
    "inputs",
    "verdict",
    "counts",
    "changes",
    "leak_audit",
    "precision",
    "checklist",
    "history",
)


def build_report(**sections: Any) -> dict[str, Any]:
    """Assemble the report in the documented key order; a missing section is an error, not a default."""
    report: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "contains_identifying_values": False}
    missing = [k for k in TOP_LEVEL_KEYS if k not in sections and k not in report]
    if missing:
        raise ValueError(f"report sections missing: {', '.join(missing)}")
    report.update(sections)
    return {key: report[key] for key in TOP_LEVEL_KEYS}


def write_report_json(report: dict[str, Any], report_dir: str | Path, spark: Any = None) -> Path | str:
    """Write ``report.json`` (UTF-8, indented, keys in schema order) and return its path.

    ``report_dir`` may be a local folder or a URI (:mod:`anonymizer.spark.zone_fs`).
    """
    from anonymizer.spark.zone_fs import write_text

    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    return write_text(spark, f"{str(report_dir).rstrip('/')}/report.json", text)
