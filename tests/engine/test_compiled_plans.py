"""Compiled rule plans against the node-tree engine: same output, same rule hits, same errors.

The node-tree engine follows Microsoft's algorithm step by step (and passes its fixtures); the compiled plans
must be indistinguishable from it on every configuration they accept.
"""

from __future__ import annotations

import copy
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from anonymizer.engine import Anonymizer
from anonymizer.engine.compiled.program import unsupported_reason
from anonymizer.errors import AnonymizerError, ProcessingError, RuleNotApplicableError
from anonymizer.fhir.model import r4
from anonymizer.methods import date_shift
from tests.strong_keys import DATE_KEY, HASH_KEY

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "examples" / "synthea-10-patients"
KEYS = {"cryptoHashKey": HASH_KEY, "dateShiftKey": DATE_KEY}
AS_OF = date(2026, 1, 1)


def _pair(config: dict[str, Any]) -> tuple[Anonymizer, Anonymizer]:
    fast = Anonymizer.from_config(config, as_of=AS_OF, base_dir=ROOT / "configs")
    tree = Anonymizer.from_config(config, as_of=AS_OF, base_dir=ROOT / "configs", compiled=False)
    assert fast.tree_engine_reason is None, fast.tree_engine_reason
    return fast, tree


def _run(engine: Anonymizer, resource: dict[str, Any]) -> Any:
    """The serialised output (byte for byte, key order included), or the error."""
    try:
        return orjson.dumps(engine.anonymize_raising(copy.deepcopy(resource)))
    except AnonymizerError as exc:
        return (type(exc).__name__, str(exc))


def _shipped(name: str) -> dict[str, Any]:
    config = json.loads((ROOT / "configs" / name).read_text())
    config["parameters"] = {**config.get("parameters", {}), **KEYS}
    config["parameters"].pop("encryptKey", None)
    return config


def _sample_resources(per_file: int = 25) -> list[dict[str, Any]]:
    out = []
    for path in sorted(SAMPLE.glob("*.ndjson")):
        out.extend(orjson.loads(line) for line in path.read_bytes().splitlines()[:per_file] if line.strip())
    return out


@pytest.mark.parametrize("config_name", sorted(p.name for p in (ROOT / "configs").glob("*.json")))
def test_shipped_configs_agree_on_the_sample(config_name: str) -> None:
    fast, tree = _pair(_shipped(config_name))
    resources = _sample_resources()
    assert len(resources) > 200
    for resource in resources:
        assert _run(fast, resource) == _run(tree, resource), resource["resourceType"]
    assert fast.rule_hits == tree.rule_hits


EDGE_CONFIG: dict[str, Any] = {
    "fhirVersion": "R4",
    "fhirPathRules": [
        {"path": "Patient.extension('http://example.org/keep-me')", "method": "keep"},
        {"path": "Patient.name.where(use='official').family", "method": "keep"},
        {"path": "Patient.name.given", "method": "keep"},
        {"path": "Observation.effective", "method": "dateShift"},  # before Resource.id: sees the original id
        {"path": "Resource.id", "method": "cryptoHash"},
        {"path": "Observation.value as Quantity", "method": "perturb", "span": 0, "roundTo": 1},
        {
            "path": "nodesByType('Quantity').unit",
            "method": "redact",
        },  # protected below the perturbed Quantity
        {"path": "nodesByType('Extension')", "method": "redact"},
        {"path": "nodesByType('HumanName')", "method": "redact"},
        {"path": "nodesByType('Reference').reference", "method": "cryptoHash"},
        {"path": "nodesByType('date')", "method": "dateShift"},
        {"path": "nodesByType('dateTime')", "method": "dateShift"},
        {"path": "nodesByType('Address')", "method": "redact"},
        {"path": "Bundle.entry.fullUrl", "method": "redact"},
    ],
    "parameters": {
        **KEYS,
        "enablePartialZipCodesForRedact": True,
        "restrictedZipCodeTabulationAreas": ["036"],
    },
}

EDGE_RESOURCES: list[dict[str, Any]] = [
    {  # holders: arrays with nulls, a primitive with only extensions, kept and redacted extensions
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"lastUpdated": "2020-01-01T10:00:00Z"},
        "extension": [
            {"url": "http://example.org/keep-me", "valueString": "kept"},
            {"url": "http://example.org/other", "valueString": "gone"},
        ],
        "name": [
            {"use": "official", "family": "Keep", "given": ["A", None], "_given": [None, {"id": "g2"}]},
            {"use": "nickname", "family": "Drop"},
        ],
        "_birthDate": {"extension": [{"url": "http://example.org/other", "valueBoolean": True}]},
        "address": [{"city": "X", "postalCode": "03601"}],
        "contained": [{"resourceType": "Organization", "id": "o1", "name": "Org", "telecom": []}],
        "managingOrganization": {"reference": "#o1", "display": None},
    },
    {  # ordering: the date rule runs before Resource.id; Quantity perturbed, its unit protected
        "resourceType": "Observation",
        "id": "obs-1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2019-05-05T10:00:00+02:00",
        "issued": "2019-05-05T10:00:00.123+02:00",
        "valueQuantity": {"value": 12.34, "unit": "mg", "system": "http://unitsofmeasure.org"},
        "component": [{"code": {"text": "c"}, "valueQuantity": {"value": 1, "unit": "kg"}}],
    },
    {  # a Bundle: entries processed after it with their own rules; labels per entry
        "resourceType": "Bundle",
        "id": "b1",
        "type": "collection",
        "timestamp": "2020-02-02T00:00:00Z",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": {"resourceType": "Patient", "id": "p2", "birthDate": "1950-03-04"},
            },
            {"resource": {"resourceType": "Observation", "id": "o2", "effectiveDateTime": "2021-01-01"}},
        ],
    },
    {"resourceType": "Patient", "id": "p3", "fhir_comments": ["x"], "active": None, "name": []},
    {"resourceType": "Patient", "id": "p4", "unknownElement": 1},
    {"resourceType": "Patient", "id": "p5", "contained": [{"id": "no-type"}]},
    {"resourceType": "Observation", "id": "o5", "effectiveDateTime": "not a date"},
    {
        "resourceType": "Observation",
        "id": "o6",
        "meta": None,
        "status": "final",
        "effectiveDateTime": "2020-01-01",
    },
    {
        "resourceType": "Patient",
        "id": "p6",
        "_id": {"id": "i"},
        "telecom": [{"value": "1", "_value": {"id": "v"}}],
    },
]


@pytest.mark.parametrize("resource", EDGE_RESOURCES, ids=lambda r: f"{r['resourceType']}-{r['id']}")
def test_edge_cases_agree(resource: dict[str, Any]) -> None:
    fast, tree = _pair(EDGE_CONFIG)
    out = _run(fast, resource)
    assert out == _run(tree, resource)
    if not isinstance(out, tuple):  # hits of a resource that failed half-way are not comparable
        assert fast.rule_hits == tree.rule_hits


DATE_EDGES = ["0001-01-01", "0001-02-10", "9999-12-31", "9999-12-01T10:20:30.5+01:00", "1925-06-01",
              "2020-02-29", "2019-02-29", "2020-01", "2020", "x2020-03-04Tz", "2020-03-04T23:59:59Z", ""]  # fmt: skip


@pytest.mark.parametrize("fixed", [None, 1, -1, 40, -40, 10**7])
def test_date_shift_edges_agree_when_met_again(fixed: int | None) -> None:
    """Generated walk code shifts a planned date inline (a value met before): the day range, redaction (an age
    over 89, no day, an invalid day) and lists agree with the node tree, the first time and the next."""
    parameters: dict[str, Any] = {**KEYS}
    if fixed is not None:
        parameters["dateShiftFixedOffsetInDays"] = fixed
    config = {
        "fhirVersion": "R4",
        "fhirPathRules": [
            {"path": "nodesByType('date')", "method": "dateShift"},
            {"path": "nodesByType('dateTime')", "method": "dateShift"},
            {"path": "nodesByType('instant')", "method": "dateShift"},
        ],
        "parameters": parameters,
    }
    fast, tree = _pair(config)
    for round_no in range(2):
        for n, value in enumerate(DATE_EDGES):
            resources = [
                {"resourceType": "Patient", "id": f"p{n}", "birthDate": value},
                {
                    "resourceType": "Observation",
                    "id": f"o{n}-{round_no}",
                    "status": "final",
                    "effectiveDateTime": value,
                    "issued": value,
                },  # fmt: skip
                {
                    "resourceType": "MedicationRequest",
                    "id": f"m{n}",
                    "status": "active",
                    "intent": "order",
                    "dosageInstruction": [{"timing": {"event": [value, value, "2020-05-05"]}}],
                },  # fmt: skip
            ]
            for resource in resources:
                out = _run(fast, resource)
                assert out == _run(tree, resource), (round_no, n, resource["resourceType"])
                if fixed is not None and resource["resourceType"] == "Patient" and value:
                    shifted, _ = date_shift.shift_date(value, "date", fixed, partial=False, as_of=AS_OF)
                    assert orjson.loads(out).get("birthDate") == shifted
    assert fast.rule_hits == tree.rule_hits


def test_a_memoised_operation_failing_in_generated_code_fails_as_on_the_tree() -> None:
    """A memo miss computed by generated walk code (cryptoHash of an id, of a reference) raises what the node tree
    raises for a value the method refuses (a lone surrogate UTF-8 cannot encode), and goes on after it."""
    fast, tree = _pair(_shipped("ms-r4-configuration-sample.json"))
    resources = [
        {
            "resourceType": "Observation",
            "id": "ok-1",
            "status": "final",
            "subject": {"reference": "Patient/p"},
        },
        {
            "resourceType": "Observation",
            "id": "bad\ud800",
            "status": "final",
            "subject": {"reference": "Patient/p"},
        },
        {
            "resourceType": "Observation",
            "id": "ok-2",
            "status": "final",
            "subject": {"reference": "Patient/\udfff"},
        },
        {
            "resourceType": "Observation",
            "id": "ok-3",
            "status": "final",
            "subject": {"reference": "Patient/q"},
        },
    ]
    outs = [_run(fast, resource) for resource in resources]
    assert outs == [_run(tree, resource) for resource in resources]
    assert [isinstance(out, tuple) for out in outs] == [False, True, True, False]


def test_edge_cases_do_what_the_rules_say() -> None:
    fast, _ = _pair(EDGE_CONFIG)
    patient = fast.anonymize(copy.deepcopy(EDGE_RESOURCES[0]))
    assert patient["extension"] == [{"url": "http://example.org/keep-me", "valueString": "kept"}]
    assert patient["name"] == [{"family": "Keep", "given": ["A", None], "_given": [None, {"id": "g2"}]}]
    assert "birthDate" not in patient and "_birthDate" not in patient
    assert patient["address"] == [{"postalCode": "00000"}]
    observation = fast.anonymize(copy.deepcopy(EDGE_RESOURCES[1]))
    assert observation["valueQuantity"] == {
        "value": 12.3,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
    }
    assert "unit" not in observation["component"][0]["valueQuantity"]


def test_plans_compile_once_per_type_and_engine_pickles() -> None:
    import pickle

    fast, _ = _pair(EDGE_CONFIG)
    fast.anonymize(copy.deepcopy(EDGE_RESOURCES[1]))
    clone = pickle.loads(pickle.dumps(fast))
    assert _run(clone, EDGE_RESOURCES[1]) == _run(fast, EDGE_RESOURCES[1])
    assert "c" * 32 not in repr(fast._engine)


def test_release_engine_drops_plans_and_memos_keeps_hits_and_results() -> None:
    fast, _ = _pair(EDGE_CONFIG)
    first = _run(fast, EDGE_RESOURCES[1])
    built = fast._engine
    hits = dict(fast.rule_hits)
    assert hits
    fast.release_engine()
    assert "_engine" not in fast.__dict__ and "_process_shared" not in fast.__dict__
    assert dict(fast.rule_hits) == hits  # counted before the engine went
    assert _run(fast, EDGE_RESOURCES[1]) == first  # rebuilt on use: same result
    assert fast._engine is not built
    assert sum(fast.rule_hits.values()) == 2 * sum(hits.values())


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"path": "Patient.name", "method": "substitute", "replaceWith": {}}, "method substitute"),
        ({"jsonPath": "$.name[0].family", "method": "redact"}, "jsonPath rules"),
        ({"path": "Patient.where(active = true).name", "method": "redact"}, "where() at the resource"),
        ({"path": "Patient.name.first()", "method": "redact"}, "first()"),
        ({"path": "Bundle.entry.resource", "method": "redact"}, "reaches into resource"),
        ({"path": "nodesByType('Patient')", "method": "redact"}, "nodesByType of a resource type"),
    ],
)
def test_configurations_the_plans_leave_to_the_tree_engine(rule: dict[str, Any], reason: str) -> None:
    config = {"fhirPathRules": [rule], "parameters": KEYS}
    engine = Anonymizer.from_config(config, as_of=AS_OF)
    assert engine.tree_engine_reason is not None and reason in engine.tree_engine_reason


def test_fallback_is_logged_once_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    rules = [
        {"path": "Patient.name", "method": "substitute", "replaceWith": {"family": "X"}},
        {"path": "Patient.telecom.first()", "method": "redact"},
    ]
    with caplog.at_level("WARNING", logger="anonymizer.engine.interface"):
        engine = Anonymizer.from_config({"fhirPathRules": rules, "parameters": KEYS}, as_of=AS_OF)
        for _ in range(3):
            engine.anonymize({"resourceType": "Patient", "name": [{"family": "F"}]})
    warnings = [r for r in caplog.records if "node-tree engine" in r.getMessage()]
    assert len(warnings) == 1
    report = engine.engine_report
    assert report["engine"] == "reference"
    assert [r.split(":")[0] for r in report["fallback_reasons"]] == [
        "rule #1 (Patient.name)",
        "rule #2 (Patient.telecom.first())",
    ]
    assert "F" not in str(report)
    assert Anonymizer.from_config(_shipped("hipaa-safe-harbor.json"), as_of=AS_OF).engine_report == {
        "engine": "compiled",
        "fallback_reasons": [],
    }


GENERALIZE_CONFIG: dict[str, Any] = {
    "fhirPathRules": [
        {"path": "Patient.name.given", "method": "keep"},
        {
            "path": "Patient.birthDate",
            "method": "generalize",
            "cases": {"$this >= @1990-01-01": "@1990-01-01", "$this < @1990-01-01": "@1900-01-01"},
        },
        {
            "path": "nodesByType('Address').postalCode",
            "method": "generalize",
            "cases": {"$this.startsWith('0')": "'00000'"},
            "otherValues": "keep",
        },
        {"path": "Patient.gender", "method": "generalize", "cases": {"$this = 'male'": "'M'"}},
        {"path": "Observation.code", "method": "generalize", "cases": {"true": "'x'"}},  # complex: refused
        {"path": "nodesByType('HumanName')", "method": "redact"},
        {"path": "Resource.id", "method": "cryptoHash"},
    ],
    "parameters": KEYS,
}


def test_generalize_runs_on_compiled_plans_as_on_the_tree() -> None:
    fast, tree = _pair(GENERALIZE_CONFIG)
    rng = random.Random(7)
    resources = [r for r in _sample_resources(per_file=15) if r["resourceType"] in ("Patient", "Observation")]
    patient = {
        "resourceType": "Patient",
        "birthDate": "1995-03-04",
        "_birthDate": {"extension": [{"url": "http://example.org/x", "valueString": "s"}]},
        "gender": "",
        "address": [{"postalCode": "01234"}, {"postalCode": "98765"}],
    }
    resources += [patient, {"resourceType": "Patient", "birthDate": None, "gender": "male"}]
    succeeded = []
    for resource in resources + [_mutate(copy.deepcopy(r), rng) for r in resources]:
        out = _run(fast, resource)
        assert out == _run(tree, resource), resource["resourceType"]
        if not isinstance(out, tuple):
            succeeded.append(resource)
    fast, tree = _pair(GENERALIZE_CONFIG)  # hits of the resources that fail depend on where each engine stops
    for resource in succeeded:
        _run(fast, resource), _run(tree, resource)
    assert fast.rule_hits == tree.rule_hits and fast.rule_hits[(1, "generalize")] > 0
    refused = _run(fast, {"resourceType": "Observation", "status": "final", "code": {"text": "t"}})
    assert (
        refused[0] == "RuleNotApplicableError" and "generalize applies to primitive values only" in refused[1]
    )
    with pytest.raises(RuleNotApplicableError, match="Extension at Patient.birthDate.extension"):
        fast.anonymize_raising(copy.deepcopy(patient))  # generalize reaches the birthDate's extension
    out = fast.anonymize_raising({k: v for k, v in copy.deepcopy(patient).items() if k != "_birthDate"})
    assert out["birthDate"] == "1990-01-01" and out["address"][0]["postalCode"] == "00000"
    assert out["address"][1]["postalCode"] == "98765"


def test_anonymize_applies_processing_errors_like_anonymize_json() -> None:
    config = {
        "processingErrors": "skip",
        "fhirPathRules": [
            {"path": "Patient.gender", "method": "generalize", "cases": {"$this - 1 > 0": "'x'"}}
        ],
        "parameters": KEYS,
    }
    engine = Anonymizer.from_config(config, as_of=AS_OF)
    resource = {"resourceType": "Patient", "gender": "female", "name": [{"family": "Planted"}]}
    out = engine.anonymize(resource)
    assert out is resource
    assert out == engine.empty_resource("Patient")  # nothing half-processed stays in the caller's dict
    assert orjson.loads(engine.anonymize_json(orjson.dumps({**resource, "gender": "female"}))) == out
    with pytest.raises(ProcessingError):
        engine.anonymize_raising({"resourceType": "Patient", "gender": "female"})
    raising = Anonymizer.from_config({**config, "processingErrors": "raise"}, as_of=AS_OF)
    with pytest.raises(ProcessingError):
        raising.anonymize({"resourceType": "Patient", "gender": "female"})


def test_extension_guard_after_a_rule_that_may_change_urls_is_left_to_the_tree_engine() -> None:
    rules = (
        {"path": "nodesByType('uri')", "method": "cryptoHash"},
        {"path": "Patient.extension('http://example.org/x')", "method": "keep"},
    )
    engine = Anonymizer.from_config({"fhirPathRules": list(rules), "parameters": KEYS}, as_of=AS_OF)
    assert engine.tree_engine_reason is not None and "extension()" in engine.tree_engine_reason
    assert unsupported_reason(engine.config.rules[1:], r4()) is None


# -- randomised differential test -------------------------------------------------------------------------
_EXTENSIONS = (
    {"url": "http://example.org/x", "valueString": "s"},
    {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "valueCode": "r"},
    {"url": "http://example.org/d", "valueDate": "2001-02-03"},
)


def _mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """Damage a resource the ways real exports are damaged: nulls, empties, holders, odd value types."""
    if isinstance(value, dict):
        for key in list(value):
            r, item = rng.random(), value[key]
            scalar = isinstance(item, str | int | float | bool)
            if r < 0.05:
                value[key] = None
            elif r < 0.08:
                value[key] = [] if isinstance(item, list) else {}
            elif r < 0.12 and scalar and not key.startswith("_"):
                value["_" + key] = {"extension": [copy.deepcopy(rng.choice(_EXTENSIONS))]}
            elif r < 0.14 and scalar and not key.startswith("_"):
                value["_" + key] = {"extension": [copy.deepcopy(rng.choice(_EXTENSIONS))]}
                del value[key]  # a primitive with only extensions
            elif r < 0.17 and isinstance(item, list) and item and all(isinstance(e, str) for e in item):
                value["_" + key] = [None if rng.random() < 0.5 else {"id": "h"} for _ in item]
                if rng.random() < 0.3:
                    item[0] = None
            elif r < 0.19 and scalar:
                value[key] = rng.choice([[item], [[item]], {"a": item}, True, 7, 1.5, ""])
            elif r < 0.22 and isinstance(item, dict) and isinstance(item.get("extension", []), list):
                item.setdefault("extension", []).append(copy.deepcopy(rng.choice(_EXTENSIONS)))
            else:
                _mutate(item, rng, depth + 1)
        if depth == 0 and rng.random() < 0.2 and isinstance(value.get("contained", []), list):
            value.setdefault("contained", []).append(
                {
                    "resourceType": "Organization",
                    "id": "c1",
                    "name": "N",
                    "address": [{"postalCode": "12345"}],
                }
            )
    elif isinstance(value, list):
        for element in value:
            _mutate(element, rng, depth + 1)
    return value


def _errors_alike(a: Any, b: Any) -> bool:
    # With several problems in one resource the two engines may name a different one first.
    return isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "InvalidInputError"


def _microsoft_common_config() -> dict[str, Any]:
    """Microsoft's functional-test config: dates shifted (also inside extensions), a where() guard, keeps."""
    path = ROOT / "tests" / "fixtures" / "ms-anonymizer" / "functional" / "configs" / "common-config.json"
    config = json.loads(path.read_text(encoding="utf-8-sig"))
    config["parameters"] = {**config.get("parameters", {}), **KEYS}
    config["parameters"].pop("encryptKey", None)
    return config


@pytest.mark.parametrize(
    "config_name", [*sorted(p.name for p in (ROOT / "configs").glob("*.json")), "ms-functional-common-config"]
)
def test_damaged_resources_agree(config_name: str) -> None:
    rng = random.Random(config_name)
    config = _microsoft_common_config() if config_name.startswith("ms-functional") else _shipped(config_name)
    fast, tree = _pair(config)
    resources = _sample_resources(per_file=6)
    resources += [
        {"resourceType": "Bundle", "id": "b", "type": "collection", "entry": [{"resource": r}]}
        for r in copy.deepcopy(resources[::9])
    ]
    for resource in resources:
        damaged = _mutate(copy.deepcopy(resource), rng)
        a, b = _run(fast, damaged), _run(tree, damaged)
        assert a == b or _errors_alike(a, b), damaged["resourceType"]


def test_memoised_elements_give_the_same_output_hits_and_labels() -> None:
    fast, tree = _pair(_shipped("ms-r4-configuration-sample.json"))
    resources = [r for r in _sample_resources(per_file=8) if r["resourceType"] != "Patient"]
    for _ in range(3):  # the second and third rounds reuse the remembered elements
        for resource in resources:
            assert orjson.loads(fast.anonymize_json(orjson.dumps(resource))) == orjson.loads(
                _run(tree, resource)
            )
    assert fast.rule_hits == tree.rule_hits
    hits = [p.memo_hits for root in fast._engine.compiler.roots.values() for p in _sub_plans(root)]
    assert sum(hits) > len(resources), "elements repeat in this sample: the memo must be used"


def test_results_of_the_dict_api_share_no_objects() -> None:
    fast, _ = _pair(_shipped("hipaa-safe-harbor.json"))
    resource = next(r for r in _sample_resources(per_file=3) if r["resourceType"] == "Condition")
    first, second, third = (fast.anonymize(copy.deepcopy(resource)) for _ in range(3))  # third: from the memo
    assert first == second == third
    third["subject"]["reference"] = "changed by the caller"
    third["code"]["coding"].clear()
    fourth = fast.anonymize(copy.deepcopy(resource))
    assert fourth == first and fourth["subject"]["reference"] != "changed by the caller"


def _sub_plans(root: Any) -> list[Any]:
    out = []
    for kp in root.keys.values():
        static = getattr(kp, "static", None)
        if static is not None and static._sub is not None:
            out.append(static._sub)
    return out


def test_memos_stay_within_their_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    from anonymizer.engine.compiled import walk

    monkeypatch.setattr(walk, "MEMO_BUDGET", 5_000)
    fast, tree = _pair(_shipped("hipaa-safe-harbor.json"))
    resources = _sample_resources(per_file=10)
    for _ in range(2):
        for resource in resources:
            assert _run(fast, resource) == _run(tree, resource)
    budget = fast._engine.compiler.memo_budget
    assert budget.plans and budget.used <= 5_000
    held = sum(len(k) + len(v[0] or b"") for p in budget.plans if p.memo for k, v in p.memo.items())
    assert held <= 5_000


def test_logs_counted_per_resource_give_the_same_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rule hits and labels through ``anonymize_json`` (a resource's whole log queued as one cached entry) match
    the node-tree engine: with the entry cache overflowing, a log too long to cache, and hits read in between."""
    from anonymizer.engine.compiled import changes

    monkeypatch.setattr(changes, "LOGS_LIMIT", 3)
    config = _shipped("ms-r4-configuration-sample.json")
    rule = [r["path"] for r in config["fhirPathRules"]].index("Observation.component.value")
    fast, tree = _pair(config)
    resources = [r for r in _sample_resources(per_file=6) if r["resourceType"] != "Patient"]
    long = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
            "component": [{"code": {"text": "c"}, "valueString": f"v{i}"} for i in range(changes.LOG_MAX + 5)]}  # fmt: skip
    resources.insert(len(resources) // 2, long)
    for round_ in range(2):
        for resource in resources:
            assert orjson.loads(fast.anonymize_json(orjson.dumps(resource))) == orjson.loads(
                _run(tree, resource)
            )
        if round_ == 0:
            assert fast.rule_hits == tree.rule_hits  # read while entries are cached
    assert fast.rule_hits == tree.rule_hits
    assert fast.rule_hits[(rule, "redact")] >= 2 * (changes.LOG_MAX + 5)


def test_a_failed_call_leaves_nothing_in_the_next_one() -> None:
    """``anonymize_json`` reuses its run state; after a resource that fails half-way the next output is the
    same as from a fresh engine, and so are the rule hits."""
    config = _shipped("ms-r4-configuration-sample.json")
    used = Anonymizer.from_config(config, as_of=AS_OF, base_dir=ROOT / "configs")
    fresh = Anonymizer.from_config(config, as_of=AS_OF, base_dir=ROOT / "configs")
    resources = _sample_resources(per_file=4)
    broken = copy.deepcopy(next(r for r in resources if r["resourceType"] == "Encounter"))
    broken["period"] = {"start": "2020-01-01", "nonsense": 1}  # an unknown element, after dates and ids
    with pytest.raises(AnonymizerError, match="unknown element"):
        used.anonymize_json(orjson.dumps(broken))
    for resource in resources:
        line = orjson.dumps(resource)
        assert used.anonymize_json(line) == fresh.anonymize_json(line)
    assert used.rule_hits == fresh.rule_hits  # nothing of the failed call is counted


def test_shared_results_of_anonymize_raising_serialise_as_the_copies() -> None:
    """``anonymize_raising(shared=True)`` (the Spark transform: read and serialised at once) gives the JSON text
    and rule hits of the copying call, with the memos in use, and after a failed call as well."""
    config = _shipped("hipaa-safe-harbor.json")
    shared = Anonymizer.from_config(config, as_of=AS_OF, base_dir=ROOT / "configs")
    copying = Anonymizer.from_config(config, as_of=AS_OF, base_dir=ROOT / "configs")
    resources = _sample_resources(per_file=8)
    broken = copy.deepcopy(next(r for r in resources if r["resourceType"] == "Encounter"))
    broken["period"] = {"start": "2020-01-01", "nonsense": 1}
    for engine, flag in ((shared, True), (copying, False)):
        with pytest.raises(AnonymizerError, match="unknown element"):
            engine.anonymize_raising(copy.deepcopy(broken), shared=flag)
    for _ in range(2):  # the second round from the memos
        for resource in resources:
            a = orjson.dumps(shared.anonymize_raising(copy.deepcopy(resource), shared=True))
            b = orjson.dumps(copying.anonymize_raising(copy.deepcopy(resource)))
            assert a == b, resource["resourceType"]
    assert shared.rule_hits == copying.rule_hits
    hits = [p.memo_hits for root in shared._engine.compiler.roots.values() for p in _sub_plans(root)]
    assert sum(hits) > len(resources)


@pytest.mark.parametrize("joinable", [False, True])
def test_an_id_is_hashed_once_for_its_resource_and_every_reference_to_it(
    monkeypatch: pytest.MonkeyPatch, joinable: bool
) -> None:
    """Hashes depend only on the value and the key: one memo for every position, ids inside references included,
    with the same output and rule hits as the node-tree engine (which keeps no such memo per position)."""
    from anonymizer.methods import crypto_hash

    hashed: list[str] = []
    real = crypto_hash.hex_hasher

    def counting(key: str) -> Any:
        fn = real(key)

        def hexed(value: str) -> str:
            hashed.append(value)
            return fn(value)

        return hexed

    monkeypatch.setattr(crypto_hash, "hex_hasher", counting)
    config = _shipped("hipaa-safe-harbor.json")
    config["parameters"]["referenceHashing"] = "joinable" if joinable else "microsoft"
    fast, tree = _pair(config)
    encounter = {"resourceType": "Encounter", "id": "enc-1", "status": "finished", "class": {"code": "AMB"},
                 "subject": {"reference": "Patient/pat-1"}}  # fmt: skip
    observation = {"resourceType": "Observation", "id": "obs-1", "status": "final", "code": {"text": "x"},
                   "subject": {"reference": "Patient/pat-1", "display": "x"}, "encounter": {"reference": "Encounter/enc-1"},
                   "hasMember": [{"reference": "urn:uuid:0b8a1c9e-2f3d-4e5f-8a9b-0c1d2e3f4a5b"}]}  # fmt: skip
    condition = {"resourceType": "Condition", "id": "0b8a1c9e-2f3d-4e5f-8a9b-0c1d2e3f4a5b",
                 "subject": {"reference": "Patient/pat-1"}, "encounter": {"reference": "Encounter/enc-1", "type": "Encounter"}}  # fmt: skip
    resources = (encounter, observation, condition)
    want = [orjson.loads(_run(tree, resource)) for resource in resources]
    hashed.clear()
    assert [orjson.loads(fast.anonymize_json(orjson.dumps(resource))) for resource in resources] == want
    assert fast.rule_hits == tree.rule_hits
    assert sorted(hashed) == sorted({"enc-1", "pat-1", "obs-1", "0b8a1c9e-2f3d-4e5f-8a9b-0c1d2e3f4a5b"})


def test_remembered_element_texts_take_only_their_length() -> None:
    """orjson's bytes keep a 4 KiB buffer whatever their length: the memo keeps compact copies."""
    import tracemalloc

    from anonymizer.engine.compiled.walk import _compact

    texts = [orjson.dumps({"reference": f"Patient/{i}"}) for i in range(200)]
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        copies = [_compact(text) for text in texts]
        held = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert copies == texts and all(c is not t for c, t in zip(copies, texts, strict=True))
    assert held < 200 * 200


def test_date_shift_offsets_stay_within_their_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from anonymizer.engine.compiled import run

    monkeypatch.setattr(run, "OFFSETS_LIMIT", 5)
    fast, tree = _pair(_shipped("ms-r4-configuration-sample.json"))
    resources = [r for r in _sample_resources(per_file=4) if r["resourceType"] != "Patient"]
    for _ in range(2):
        for resource in resources:
            assert orjson.loads(fast.anonymize_json(orjson.dumps(resource))) == orjson.loads(
                _run(tree, resource)
            )
    offsets = fast._engine._offsets
    assert 0 < len(offsets) <= 5 < len(resources)
