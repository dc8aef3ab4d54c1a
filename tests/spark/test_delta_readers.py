"""Every json-format research-zone table opens in delta-rs (``deltalake``) and polars, with parseable resources.

These readers stand for the ones without Spark 4: Fabric and Synapse SQL endpoints, Power BI, DuckDB, Python.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

deltalake = pytest.importorskip("deltalake")
polars = pytest.importorskip("polars")

pytestmark = pytest.mark.spark
LINES_PER_TYPE = 25


@pytest.fixture(scope="module")
def zone(spark: Any, sample_dir: Path, repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from anonymizer.spark.pipeline import DeidentifyRequest, run_deidentify

    root = tmp_path_factory.mktemp("readers")
    landing = root / "landing"
    landing.mkdir()
    for source in sample_dir.glob("*.ndjson"):  # every type of the sample, the first lines of each (fast)
        lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
        (landing / source.name).write_text("".join(lines[:LINES_PER_TYPE]), encoding="utf-8")
    result = run_deidentify(
        DeidentifyRequest(input=str(landing), output=str(root / "research"),
                          config=str(repo_root / "configs" / "hipaa-safe-harbor.json"),
                          as_of=date(2026, 1, 1), allow_ephemeral_keys=True, resource_format="json"),
        spark,
    )  # fmt: skip
    assert result.summary.reconciled
    return root / "research"


def _tables(zone: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted((zone / "delta").iterdir()) if not p.name.startswith("_")}


def _assert_resources_of_type(resources: list[str], resource_type: str) -> None:
    assert resources
    for text in resources:
        resource = json.loads(text)
        assert isinstance(resource, dict) and resource["resourceType"] == resource_type


def test_every_sample_type_has_a_table(zone: Path, sample_dir: Path) -> None:
    expected = {p.name.split(".")[0] for p in sample_dir.glob("*.ndjson")}
    assert set(_tables(zone)) == expected


def test_delta_rs_reads_every_table(spark: Any, zone: Path) -> None:
    for resource_type, path in _tables(zone).items():
        table = deltalake.DeltaTable(str(path))
        assert table.metadata().configuration["fhir_anonymizer.resource_format"] == "json"
        rows = table.to_pyarrow_table(columns=["id", "resource"]).to_pylist()
        assert len(rows) == spark.read.format("delta").load(str(path)).count()
        _assert_resources_of_type([r["resource"] for r in rows], resource_type)


def test_polars_reads_every_table(zone: Path) -> None:
    for resource_type, path in _tables(zone).items():
        frame = polars.read_delta(str(path), columns=["id", "resource"])
        assert frame.schema["resource"] == polars.String
        _assert_resources_of_type(frame["resource"].to_list(), resource_type)
