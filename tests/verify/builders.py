"""Small landing folders and research zones for the verify tests (synthetic values, treated as PHI)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anonymizer.config.lint import validate_without_keys
from anonymizer.config.loader import fingerprint
from anonymizer.config.model import AnonymizerConfig
from anonymizer.verify.harvest_frame import prepare_harvest
from anonymizer.verify.leak_audit import LeakAuditResult, run_leak_audit
from anonymizer.verify.passes import output_pass, source_pass
from anonymizer.verify.precision_checks import Promises

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PATIENT_ID = "pat-0001-aaaa-bbbb"
PATIENT_2 = "pat-0002-cccc-dddd"

NOTE = "2019-04-01\n\nSumiko254 Larue605 is a 45 year-old. Phone (555) 810 7203."


def source_resources() -> list[dict[str, Any]]:
    """Two patients, their encounters/observations/notes, one hospital that shares the patients' city."""
    patients = [
        {
            "resourceType": "Patient",
            "id": PATIENT_ID,
            "meta": {"lastUpdated": "2020-05-12T10:00:00Z"},
            "text": {"status": "generated", "div": "<div>Sumiko254 Larue605</div>"},
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
                    "valueString": "Ester Castañeda",
                },
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/geolocation",
                    "extension": [
                        {"url": "latitude", "valueDecimal": 42.41044339160828},
                        {"url": "longitude", "valueDecimal": -71.05977364664953},
                    ],
                },
            ],
            "identifier": [
                {
                    "type": {
                        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]
                    },
                    "system": "http://hospital.example.org",
                    "value": "e6dde18e-af01-4f2f-b74a-1ec7d0368f93",
                },
                {
                    "type": {
                        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]
                    },
                    "system": "http://hl7.org/fhir/sid/us-ssn",
                    "value": "999-88-8662",
                },
                {
                    "type": {
                        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "DL"}]
                    },
                    "system": "urn:oid:2.16.840.1.113883.4.3.25",
                    "value": "S99912345",
                },
            ],
            "name": [{"use": "official", "family": "Larue605", "given": ["Sumiko254"], "prefix": ["Mrs."]}],
            "telecom": [{"system": "phone", "value": "555-810-7203", "use": "home"}],
            "gender": "female",
            "birthDate": "1970-05-12",
            "address": [
                {
                    "line": ["711 Hand Trail"],
                    "city": "Boston",
                    "state": "Massachusetts",
                    "postalCode": "02215",
                    "country": "US",
                }
            ],
        },
        {
            "resourceType": "Patient",
            "id": PATIENT_2,
            "name": [{"family": "Okuneva707", "given": ["Dewitt635"]}],
            "telecom": [{"system": "email", "value": "dewitt.okuneva@example.com"}],
            "gender": "male",
            "birthDate": "1931-02-03",
            "address": [{"line": ["12 Elm Street Unit 4"], "city": "Springfield", "postalCode": "01103"}],
        },
    ]
    hospital = {
        "resourceType": "Organization",
        "id": "org-1",
        "name": "Boston Medical Center",
        "address": [
            {"line": ["1 Boston Medical Center Pl"], "city": "Boston", "state": "MA", "postalCode": "02118"}
        ],
    }
    encounters = [
        {
            "resourceType": "Encounter",
            "id": f"enc-{n}",
            "status": "finished",
            "subject": {"reference": f"Patient/{pid}", "display": display},
            "serviceProvider": {"reference": "Organization/org-1", "display": "Boston Medical Center"},
            "period": {"start": "2019-04-01T09:00:00-04:00", "end": "2019-04-01T10:00:00-04:00"},
        }
        for n, (pid, display) in enumerate(
            [(PATIENT_ID, "Mrs. Sumiko254 Larue605"), (PATIENT_2, "Mr. Dewitt635 Okuneva707")]
        )
    ]
    observations = [
        {
            "resourceType": "Observation",
            "id": f"obs-{n}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body Height"}]},
            "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": "2019-04-01T09:30:00-04:00",
            "valueQuantity": {
                "value": 162.5 + n,
                "unit": "cm",
                "system": "http://unitsofmeasure.org",
                "code": "cm",
            },
        }
        for n, pid in enumerate([PATIENT_ID, PATIENT_2])
    ]
    note = {
        "resourceType": "DocumentReference",
        "id": "doc-1",
        "status": "current",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "date": "2019-04-01T09:00:00-04:00",
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(NOTE.encode()).decode(),
                }
            }
        ],
    }
    return [*patients, hospital, *encounters, *observations, note]


def _hash(value: str) -> str:
    return hashlib.sha256(("k:" + value).encode()).hexdigest()


def correct_anonymization(resource: dict[str, Any]) -> dict[str, Any]:
    """A hand-written Safe Harbor result: what a correct run of hipaa-safe-harbor.json keeps."""
    res = copy.deepcopy(resource)
    res["id"] = _hash(res["id"])
    for key in ("text", "name", "telecom", "extension"):
        if res["resourceType"] != "Organization" or key != "name":
            res.pop(key, None)
    if "identifier" in res:
        res["identifier"] = [
            {"system": i.get("system"), "value": _hash(i["value"])} for i in res["identifier"]
        ]
    if res["resourceType"] == "Patient":
        res["address"] = [
            {"state": a.get("state"), "country": a.get("country"), "postalCode": a["postalCode"][:3] + "00"}
            for a in res.get("address", [])
        ]
    for ref_key in ("subject", "serviceProvider"):
        if ref_key in res:
            kind, _, rid = res[ref_key]["reference"].partition("/")
            kept = {"reference": f"{kind}/{_hash(rid)}"}
            if kind == "Organization":  # facility names are not identifiers of the individual
                kept["display"] = res[ref_key]["display"]
            res[ref_key] = kept
    if res["resourceType"] == "DocumentReference":
        res["content"] = [{"attachment": {"contentType": "text/plain"}}]
    res = _years(res)
    res.setdefault("meta", {})["security"] = [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "REDACTED"}
    ]
    return res


def _years(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _years(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_years(v) for v in obj]
    if isinstance(obj, str) and re.match(r"^\d{4}-\d{2}", obj):
        year = obj[:4]
        return None if int(year) < 1935 else year  # born 1931: over 89 -> removed
    return obj


def write_landing(folder: Path, resources: list[dict[str, Any]]) -> Path:
    """One NDJSON file per resource type (plus a non-FHIR log file the reader must ignore)."""
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[str]] = {}
    for res in resources:
        by_type.setdefault(res["resourceType"], []).append(json.dumps(res, ensure_ascii=False))
    for rtype, lines in by_type.items():
        (folder / f"{rtype}.000.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not an export file\n", encoding="utf-8")
    return folder


def typed(config: dict[str, Any]) -> AnonymizerConfig:
    """A config dict as verify reads it (validated, keys never resolved)."""
    return validate_without_keys(config, None)


def write_zone(
    spark: Any,
    folder: Path,
    resources: list[dict[str, Any]],
    *,
    quarantined: int = 0,
    config: dict[str, Any] | None = None,
) -> Path:
    """A research zone with the documented Delta layout and a run-summary.json of a run under ``config``
    (default :func:`safe_harbor_config`). Resources are stored as VARIANT where this Spark has it, else as JSON
    text (Spark 3.5)."""
    from anonymizer.spark.resource_format import JSON, VARIANT, resource_column, supports_variant

    resource_format = VARIANT if supports_variant(spark) else JSON
    by_type: dict[str, list[dict[str, Any]]] = {}
    for res in resources:
        by_type.setdefault(res["resourceType"], []).append(res)
    counts = {}
    for rtype, rows in by_type.items():
        data = [(r.get("id"), _patient_key(r), "run-1", json.dumps(r, ensure_ascii=False)) for r in rows]
        df = spark.createDataFrame(data, "id string, patient_key string, run_id string, json string")
        df = df.selectExpr("id", "patient_key", "cast(null as timestamp) as last_updated", "run_id", "json")
        df = df.select(
            "id", "patient_key", "last_updated", "run_id", resource_column(resource_format, "json")
        )
        df.write.format("delta").mode("overwrite").save(str(folder / "delta" / rtype))
        counts[rtype] = {"lines_in": len(rows), "rows_out": len(rows), "quarantined": 0, "skipped": 0}
    summary = {
        "run_id": "run-1",
        "as_of": "2026-01-01",
        "config_fingerprint": "test",
        "config_file_fingerprint": fingerprint(config or safe_harbor_config()),
        "counts": counts,
        "totals": {
            "lines_in": sum(len(v) for v in by_type.values()) + quarantined,
            "rows_out": len(resources),
            "quarantined": quarantined,
        },  # fmt: skip
        "reconciled": True,
    }
    (folder / "run-summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


def _patient_key(res: dict[str, Any]) -> str | None:
    if res["resourceType"] == "Patient":
        return res.get("id")
    ref = (res.get("subject") or {}).get("reference", "")
    return ref.split("/", 1)[1] if ref.startswith("Patient/") else None


def safe_harbor_config() -> dict[str, Any]:
    """A small config in Microsoft's format that promises year-only dates and ZIP3."""
    return {
        "fhirVersion": "R4",
        "fhirPathRules": [
            {"path": "Resource.id", "method": "cryptoHash"},
            {"path": "nodesByType('Identifier').value", "method": "cryptoHash"},
            {"path": "nodesByType('HumanName')", "method": "redact"},
            {"path": "nodesByType('ContactPoint')", "method": "redact"},
            {"path": "nodesByType('Address')", "method": "redact"},
            {"path": "nodesByType('date')", "method": "redact"},
            {"path": "nodesByType('dateTime')", "method": "redact"},
            {"path": "nodesByType('Narrative')", "method": "redact"},
            {"path": "nodesByType('Attachment')", "method": "redact"},
            {"path": "Resource", "method": "keep"},
        ],
        "parameters": {
            "enablePartialDatesForRedact": True,
            "enablePartialZipCodesForRedact": True,
            "enablePartialAgesForRedact": True,
            "restrictedZipCodeTabulationAreas": ["036", "059", "102", "203"],
        },
    }


def run_audit(
    spark: SparkSession, source: list[dict[str, Any]], output: list[dict[str, Any]], as_of: date
) -> LeakAuditResult:
    """The leak audit as verify runs it over ``source`` landing lines and ``output`` resources: both passes,
    the harvest, the join."""
    lines = spark.createDataFrame(
        [(f"{r['resourceType']}.ndjson", json.dumps(r)) for r in source], "file string, line string"
    )
    harvest = prepare_harvest(source_pass(lines))
    rows = [(i, r["resourceType"], None, None, json.dumps(r)) for i, r in enumerate(output)]
    zone = spark.createDataFrame(
        rows, "uid long, rtype string, patient_key string, run_id string, json string"
    )
    records = output_pass(zone, harvest.bloom, Promises("kept", "kept", False, ()), as_of, frozenset(), None)
    return run_leak_audit(spark, lines, harvest, records)
