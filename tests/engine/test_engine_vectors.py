"""Microsoft's engine-level inline vectors: whole-resource assertions, primitive substitution, labels (path parsing:
tests/fhirpath/test_rule_paths.py)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from anonymizer.config import resolve_keys
from anonymizer.engine import Anonymizer
from anonymizer.engine.kernel.labels import add_security_labels
from anonymizer.errors import AnonymizerError, RuleNotApplicableError
from anonymizer.methods.encrypt import decrypt_value

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ms-anonymizer"
VECTORS = json.loads((FIXTURES / "inline-vectors.json").read_text())
AS_OF = date(2025, 9, 5)


def vectors(method: str) -> list[Any]:
    return [
        pytest.param(v, id=f"{method}-{i}") for i, v in enumerate(v for v in VECTORS if v["method"] == method)
    ]


def _resolve(value: Any, path: str) -> list[Any]:
    """Values at a dotted path with ``[n]`` and ``[*]`` (missing -> empty)."""
    current = [value]
    for part in path.split("."):
        m = re.match(r"^([A-Za-z_]+)(?:\[(\*|\d+)\])?$", part)
        assert m, part
        name, index = m.groups()
        nxt: list[Any] = []
        for item in current:
            if not isinstance(item, dict) or name not in item:
                continue
            got = item[name]
            if index is None:
                nxt.append(got)
            elif isinstance(got, list):
                nxt.extend(got if index == "*" else got[int(index) : int(index) + 1])
        current = nxt
    return current


def _engine(params: dict[str, Any]) -> tuple[Anonymizer, str | None]:
    p = params["processorParams"]
    redact = p.get("redact", {})
    config = {
        "fhirPathRules": params["rules"],
        "parameters": {
            **{k: v for k, v in redact.items()},
            "dateShiftKey": p.get("dateShiftKey", ""),
            "cryptoHashKey": p.get("cryptoHashKey", ""),
            "encryptKey": p.get("encryptKey", ""),
            "dateShiftScope": "file",
        },
    }
    engine = Anonymizer.from_config(config, as_of=AS_OF, allow_ephemeral_keys=True, allow_weak_test_keys=True)
    return engine, p.get("dateShiftKeyPrefix")  # Microsoft's vectors use short keys


@pytest.mark.parametrize("v", vectors("engine"))
def test_engine_assertions(v: dict[str, Any]) -> None:
    engine, prefix = _engine(v["params"])
    out = engine.anonymize(json.loads(json.dumps(v["input"])), source_file=prefix)
    for check in v["expected"]["assertions"]:
        op, found = check["op"], _resolve(out, check["path"])
        if op == "absent":
            assert not found, check
        elif op == "present":
            assert found, check
        elif op == "equals":
            expected = check["value"]
            assert (found if isinstance(expected, list) else (found[0] if found else None)) == expected, check
        elif op == "set_equals":
            assert set(found) == set(check["value"]), check
        elif op == "contains":
            assert check["value"] in found, check
        elif op == "not_contains":
            assert check["value"] not in found, check
        elif op == "in_range":
            low, high = check["value"]
            assert found and low <= found[0] <= high, check
        elif op == "decrypts_to":
            assert decrypt_value(found[0], resolve_keys(engine.config).encrypt_key.value) == check["value"], (
                check
            )
        else:  # pragma: no cover
            raise AssertionError(f"unknown op {op}")


@pytest.mark.parametrize(
    "v", [p for p in vectors("substitute") if not p.values[0]["params"]["nodeType"][0].isupper()]
)
def test_substitute_primitive(v: dict[str, Any]) -> None:
    node_type = v["params"]["nodeType"]
    element = {"boolean": "active", "id": "id", "date": "birthDate"}.get(node_type)
    if element is None or v["params"].get("alreadyProcessed"):
        pytest.skip(f"no Patient element of type {node_type}")
    config = {
        "fhirPathRules": [
            {"path": f"Patient.{element}", "method": "substitute", "replaceWith": v["params"]["replaceWith"]}
        ]
    }
    out = Anonymizer.from_config(config, as_of=AS_OF).anonymize(
        {"resourceType": "Patient", element: v["input"]}
    )
    assert out.get(element) == v["expected"]
    if v.get("securityLabel"):
        assert [c["code"] for c in out["meta"]["security"]] == [v["securityLabel"]]


@pytest.mark.parametrize("v", vectors("securityLabels.add"))
def test_security_labels(v: dict[str, Any]) -> None:
    resource = json.loads(json.dumps(v["input"]))
    add_security_labels(resource, set(v["params"]["records"]))
    assert resource == v["expected"]


@pytest.mark.parametrize("v", vectors("isEmptyElement"))
def test_empty_element_shape(v: dict[str, Any]) -> None:
    if not isinstance(v["input"], dict):
        pytest.skip("not a resource file (null / text inputs exercise Microsoft's C# helper only)")
    data = json.loads((FIXTURES / v["input"]["file"]).read_text(encoding="utf-8-sig"))
    is_empty = set(data) <= {"resourceType", "meta"} and "meta" in data
    assert is_empty == v["expected"]
    if is_empty:
        assert (
            Anonymizer.from_config({"fhirPathRules": [{"path": "Patient", "method": "keep"}]}).empty_resource(
                data["resourceType"]
            )
            == data
        )


COMPLEX_ELEMENT = {"Address": "address", "HumanName": "name", "ContactPoint": "telecom"}


def _keep_rule(processed: str, element: str) -> dict[str, str]:
    # "HumanName.given[0]" -> "Patient.name.given[0]": an earlier rule that already processed that node
    return {"path": f"Patient.{element}{processed[processed.index('.') :]}", "method": "keep"}


@pytest.mark.parametrize(
    "v", [p for p in vectors("substitute") if p.values[0]["params"]["nodeType"] in COMPLEX_ELEMENT]
)
def test_substitute_complex(v: dict[str, Any]) -> None:
    element = COMPLEX_ELEMENT[v["params"]["nodeType"]]
    rules = [_keep_rule(p, element) for p in v["params"].get("alreadyProcessed", [])]
    rules.append(
        {"path": f"Patient.{element}", "method": "substitute", "replaceWith": v["params"]["replaceWith"]}
    )
    engine = Anonymizer.from_config({"fhirPathRules": rules}, as_of=AS_OF)
    resource = {"resourceType": "Patient", element: [json.loads(json.dumps(v["input"]))]}
    expected = v["expected"]
    if isinstance(expected, dict) and "error" in expected:
        with pytest.raises(AnonymizerError):
            engine.anonymize(resource)
        return
    out = engine.anonymize(resource)
    assert out.get(element) == ([expected] if expected else None)


@pytest.mark.parametrize(
    "v", [p for p in vectors("generalize") if p.values[0]["params"]["nodeType"] in COMPLEX_ELEMENT]
)
def test_generalize_complex_node_is_not_applicable(v: dict[str, Any]) -> None:
    element = COMPLEX_ELEMENT[v["params"]["nodeType"]]
    config = {
        "fhirPathRules": [{"path": f"Patient.{element}", "method": "generalize", "cases": {"true": "'x'"}}]
    }
    with pytest.raises(RuleNotApplicableError):
        Anonymizer.from_config(config, as_of=AS_OF).anonymize(
            {"resourceType": "Patient", element: [v["input"]]}
        )


def test_json_path_rules_select_nodes_like_fhirpath() -> None:
    config = {"fhirPathRules": [{"jsonPath": "$.name[*].family", "method": "redact"}]}
    out = Anonymizer.from_config(config, as_of=AS_OF).anonymize(
        {"resourceType": "Patient", "name": [{"family": "Smith", "given": ["Ann"]}, {"family": "Jones"}]}
    )
    assert out["name"] == [{"given": ["Ann"]}]
    assert [c["code"] for c in out["meta"]["security"]] == ["REDACTED"]


def test_scrub_text_keeps_notes_without_identifiers() -> None:
    import base64

    from anonymizer.text.identifiers import collect_identifiers

    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Hartmann", "given": ["Greta"]}],
        "birthDate": "1961-03-03",
    }
    note = "GRETA HARTMANN was seen on March 3rd, 1961; call 555-123-4567.\nPlan: rest."
    doc = {
        "resourceType": "DocumentReference",
        "status": "current",
        "content": [
            {"attachment": {"contentType": "text/plain", "data": base64.b64encode(note.encode()).decode()}}
        ],
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Greta <b>Hartmann</b></p></div>',
        },
    }
    config = {
        "fhirPathRules": [
            {"path": "nodesByType('Attachment').data", "method": "scrubText"},
            {"path": "nodesByType('xhtml')", "method": "scrubText"},
        ],
        "parameters": {"enablePartialDatesForRedact": True},
    }
    out = Anonymizer.from_config(config, as_of=AS_OF).anonymize(
        doc, patient_identifiers=collect_identifiers([patient])
    )
    text = base64.b64decode(out["content"][0]["attachment"]["data"]).decode()
    assert "hartmann" not in text.lower() and "greta" not in text.lower() and "555-123-4567" not in text
    assert "Plan: rest." in text and "1961" in text and "March" not in text
    assert "Hartmann" not in out["text"]["div"] and out["text"]["div"].startswith("<div")
