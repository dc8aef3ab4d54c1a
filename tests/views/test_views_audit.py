"""verify's leak audit searches the views tables too: an identifier planted in a view is a leak."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anonymizer.verify.pipeline import VerifyRequest, run_verify
from anonymizer.views.audit import VIEW_TYPE_PREFIX
from tests.verify import builders as b

pytestmark = pytest.mark.spark


def test_identifier_planted_in_a_view_table_is_a_leak(spark: Any, tmp_path: Path) -> None:
    source = b.source_resources()
    b.write_landing(tmp_path / "landing", source)
    correct = [b.correct_anonymization(r) for r in source]
    zone = b.write_zone(spark, tmp_path / "zone", correct)
    (tmp_path / "config.json").write_text(json.dumps(b.safe_harbor_config()), encoding="utf-8")
    patient_key = correct[0]["id"]
    # A view table with a clean column and the source patient's family name.
    spark.createDataFrame(
        [(patient_key, 1970, "Larue605")], "id string, birth_year int, family string"
    ).write.format("delta").save(str(Path(zone) / "views" / "names"))

    result = run_verify(
        VerifyRequest(
            source=str(tmp_path / "landing"),
            output=str(zone),
            config=str(tmp_path / "config.json"),
            report_dir=str(tmp_path / "report"),
        ),
        spark=spark,
    )
    findings = result.report["leak_audit"]["findings"]
    in_views = [f for f in findings if f["resource_type"].startswith(VIEW_TYPE_PREFIX)]
    assert not result.passed and result.leaks >= 1
    assert [(f["resource_type"], f["path"], f["category"], f["exempt"]) for f in in_views] == [
        ("view:names", "view:names.family", "A", False)
    ]
    assert "Larue605" not in (tmp_path / "report" / "report.json").read_text()
