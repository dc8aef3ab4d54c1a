"""databricks.yml validates against the official bundle JSON schema (vendored copy; ../shared when present)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
REPO = Path(__file__).parents[2]
SHARED = REPO.parent / "shared" / "schemas" / "databricks-bundle.schema.json"
VENDORED = Path(__file__).parent / "schemas" / "databricks-bundle.schema.json.gz"


def _schema() -> dict:
    if SHARED.is_file():
        text = SHARED.read_text()
    elif VENDORED.is_file():
        text = gzip.decompress(VENDORED.read_bytes()).decode()
    else:
        pytest.skip("no copy of the Databricks bundle schema")
    # The schema's interpolation patterns use \\p{L} / \\p{N} (Go regexp), which Python's re lacks: same classes.
    return json.loads(text.replace("\\\\p{L}", "[^\\\\W\\\\d_]").replace("\\\\p{N}", "\\\\d"))


def _bundle() -> dict:
    import yaml

    return yaml.safe_load((REPO / "databricks.yml").read_text())


def test_bundle_validates_against_the_schema() -> None:
    import jsonschema

    validator = jsonschema.Draft7Validator(_schema())
    errors = sorted(validator.iter_errors(_bundle()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:10])


def test_tasks_chain_export_deidentify_verify_with_secret_references_only() -> None:
    job = _bundle()["resources"]["jobs"]["fhir_deid"]
    tasks = {t["task_key"]: t for t in job["tasks"]}
    assert tasks["deidentify"]["depends_on"] == [{"task_key": "export"}]
    assert tasks["verify"]["depends_on"] == [{"task_key": "deidentify"}]
    # Views are materialized only from a verified zone: they run after verify, over the research volume.
    assert tasks["views"]["depends_on"] == [{"task_key": "verify"}]
    views_params = tasks["views"]["python_wheel_task"]["parameters"]
    assert views_params[0] == "views" and "--views=${var.views_dir}" in views_params
    for task in tasks.values():
        assert task["python_wheel_task"]["entry_point"] == "fhir-anonymizer"
        assert task["python_wheel_task"]["package_name"] == "fhir_lake_anonymizer"
    params = " ".join(p for t in tasks.values() for p in t["python_wheel_task"]["parameters"])
    assert "--keys-from=dbsecret:${var.secret_scope}" in params
    assert "{{secrets/" not in (REPO / "databricks.yml").read_text(), (
        "no secret values in job or cluster settings"
    )
    targets = _bundle()["targets"]
    assert targets["dev"]["mode"] == "development" and targets["prod"]["mode"] == "production"
    assert "service_principal_name" in targets["prod"]["run_as"]


def test_wheel_entry_point_and_package_name_match_pyproject() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["name"].replace("-", "_") == "fhir_lake_anonymizer"
    assert project["scripts"]["fhir-anonymizer"] == "anonymizer.cli:main"
