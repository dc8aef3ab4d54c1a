"""--resource-format on whatever Spark is installed: json everywhere, variant only where parse_json exists.

Runs in every environment of the support matrix (``make test-spark35`` runs it on Spark 3.5 + Delta 3.2).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from anonymizer.spark.pipeline import DeidentifyError, DeidentifyRequest, run_deidentify
from anonymizer.spark.resource_format import FORMAT_PROPERTY, supports_variant, table_properties
from anonymizer.verify.pipeline import VerifyRequest, run_verify

pytestmark = pytest.mark.spark


@pytest.fixture()
def landing(sample_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    for name in ("Patient", "Condition"):
        lines = (sample_dir / f"{name}.000.ndjson").read_text(encoding="utf-8").splitlines(keepends=True)
        (folder / f"{name}.000.ndjson").write_text("".join(lines[:20]), encoding="utf-8")
    return folder


def _request(landing: Path, out: Path, config: Path, resource_format: str, **kw: Any) -> DeidentifyRequest:
    return DeidentifyRequest(input=str(landing), output=str(out / "research"), config=str(config),
                             as_of=date(2026, 1, 1), allow_ephemeral_keys=True,
                             resource_format=resource_format, **kw)  # fmt: skip


def test_variant_where_supported_else_a_clear_error(
    spark: Any, landing: Path, tmp_path: Path, repo_root: Path
) -> None:
    config = repo_root / "configs" / "hipaa-safe-harbor.json"
    request = _request(landing, tmp_path, config, "variant")
    if not supports_variant(spark):
        with pytest.raises(DeidentifyError, match="--resource-format json"):
            run_deidentify(request, spark)
        assert not (tmp_path / "research").exists()
        return
    run_deidentify(request, spark)
    table = str(tmp_path / "research" / "delta" / "Patient")
    assert table_properties(spark, table)[FORMAT_PROPERTY] == "variant"
    assert spark.read.format("delta").load(table).schema["resource"].dataType.typeName() == "variant"
    result = run_verify(
        VerifyRequest(source=str(landing), output=str(tmp_path / "research"), config=str(config),
                      report_dir=str(tmp_path / "report")),
        spark=spark,
    )  # fmt: skip
    assert result.passed and result.leaks == 0
    # A later json run must not MERGE strings into the variant tables.
    with pytest.raises(DeidentifyError, match="stores resources as variant"):
        run_deidentify(_request(landing, tmp_path, config, "json"), spark)
    run_deidentify(_request(landing, tmp_path, config, "json", mode="overwrite"), spark)
    assert table_properties(spark, table)[FORMAT_PROPERTY] == "json"


def test_json_tables_record_their_format_and_verify_from_a_file_uri(
    spark: Any, landing: Path, tmp_path: Path, repo_root: Path
) -> None:
    config = repo_root / "configs" / "hipaa-safe-harbor.json"
    run_deidentify(_request(landing, tmp_path, config, "json"), spark)
    zone = tmp_path / "research"
    assert table_properties(spark, str(zone / "delta" / "Condition"))[FORMAT_PROPERTY] == "json"
    summary = json.loads((zone / "run-summary.json").read_text(encoding="utf-8"))
    assert summary["resource_format"] == "json" and summary["reconciled"]
    result = run_verify(
        VerifyRequest(source=landing.as_uri(), output=zone.as_uri(), config=str(config),
                      report_dir=str(tmp_path / "report")),
        spark=spark,
    )  # fmt: skip
    assert result.passed and result.report["counts"]["reconciled"]
