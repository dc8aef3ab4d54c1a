"""Views materialized through a local Spark Connect server (``views --remote``), several resource types at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.connect_server import connect_server_available

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(not connect_server_available(), reason="needs pyspark 4 with the connect extra"),
]

RESOURCES = {
    "Patient": [
        {"resourceType": "Patient", "id": "pk-1", "gender": "female"},
        {"resourceType": "Patient", "id": "pk-2", "gender": "male"},
    ],
    "Observation": [
        {
            "resourceType": "Observation",
            "id": "o-1",
            "status": "final",
            "subject": {"reference": "Patient/pk-1"},
        },
        # Not the R4 shape (a single element as an array of one): over VARIANT storage Spark refuses to read it
        # into the R4 shape, and the views read the JSON text instead.
        {"resourceType": "Observation", "id": "o-2", "subject": [{"reference": "Patient/pk-2"}]},
    ],
}


def _view(name: str, resource: str, columns: list[tuple[str, str, str]]) -> dict[str, Any]:
    return {
        "resourceType": "ViewDefinition",
        "name": name,
        "resource": resource,
        "select": [{"column": [{"name": n, "path": p, "type": t} for n, p, t in columns]}],
    }


def test_views_of_several_types_through_connect_match_the_classic_rows(
    spark: Any, connect_url: str, tmp_path: Path
) -> None:
    from anonymizer.spark.resource_format import JSON, VARIANT, resource_column, supports_variant
    from anonymizer.views.materialize import load_views, materialize

    zone = tmp_path / "zone"
    for rtype, resources in RESOURCES.items():
        rows = [(r["id"], json.dumps(r)) for r in resources]
        # Observation as VARIANT where this Spark has it (both storage forms through one server).
        stored = VARIANT if rtype == "Observation" and supports_variant(spark) else JSON
        frame = spark.createDataFrame(rows, "id string, resource_json string")
        frame.select("id", resource_column(stored)).write.format("delta").save(str(zone / "delta" / rtype))
    defs = tmp_path / "defs"
    defs.mkdir()
    views = {
        "genders": _view(
            "genders", "Patient", [("id", "getResourceKey()", "string"), ("g", "gender", "code")]
        ),
        "observations": _view(
            "observations",
            "Observation",
            [("id", "id", "id"), ("patient", "subject.getReferenceKey(Patient)", "string")],
        ),
        "ids": _view("ids", "Patient", [("id", "id", "id")]),
    }
    for name, view in views.items():
        (defs / f"{name}.json").write_text(json.dumps(view))
    classic = tmp_path / "classic"
    materialize(load_views([str(defs)]), str(zone), spark, output=str(classic))

    cli = Path(sys.executable).with_name("fhir-anonymizer")
    remote = tmp_path / "remote"
    done = subprocess.run(
        [str(cli), "views", "--remote", connect_url, "--research", str(zone), "--views", str(defs), "--output", str(remote)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "view genders: 2 rows" in done.stdout and "view observations: 2 rows" in done.stdout
    for name in views:
        expected = sorted(
            tuple(r) for r in spark.read.format("delta").load(f"{classic}/views/{name}").collect()
        )
        got = sorted(tuple(r) for r in spark.read.format("delta").load(f"{remote}/views/{name}").collect())
        assert got == expected and got
    observations = spark.read.format("delta").load(f"{remote}/views/observations").collect()
    assert sorted(tuple(r) for r in observations) == [("o-1", "pk-1"), ("o-2", "pk-2")]
