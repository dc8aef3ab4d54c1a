"""Microsoft's per-function vectors (tests/fixtures/ms-anonymizer/inline-vectors.json) for the value-level methods."""

from __future__ import annotations

import json
import random
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from anonymizer.errors import AnonymizerError
from anonymizer.methods import crypto_hash, date_shift, encrypt, generalize, perturb, redact
from anonymizer.methods.crypto_hash import hash_reference

VECTORS = json.loads((Path(__file__).parents[1] / "fixtures/ms-anonymizer/inline-vectors.json").read_text())
#: The vectors were recorded against Microsoft's HEAD of 2025-09-05; "age over 89" is relative to that day.
AS_OF = date(2025, 9, 5)
R4_TYPES = frozenset({"Patient", "Observation", "StructureDefinition", "Encounter"})


def vectors(*methods: str) -> list[Any]:
    chosen = [v for v in VECTORS if v["method"] in methods]
    return [pytest.param(v, id=f"{v['method']}-{i}") for i, v in enumerate(chosen)]


@pytest.mark.parametrize("v", vectors("redact"))
def test_redact(v: dict[str, Any]) -> None:
    p, value = v["params"], v["input"]
    node = p["nodeType"]
    if node in ("date", "dateTime", "instant"):
        out = redact.redact_date(
            value, node, partial=p.get("enablePartialDatesForRedact", False), as_of=AS_OF
        )
    elif node == "Age.value":
        out = redact.redact_age(value, partial=p.get("enablePartialAgesForRedact", False))
    elif node == "postalCode":
        out, op = redact.redact_postal_code(
            value,
            partial=p.get("enablePartialZipCodesForRedact", False),
            restricted=p.get("restrictedZipCodeTabulationAreas") or [],
        )
        assert op == ("ABSTRACT" if v["securityLabel"] == "ABSTRED" else "REDACT")
    else:
        out = None  # any other primitive: removed
    assert out == v["expected"]


def _check_range(out: str, expected: dict[str, str]) -> None:
    assert expected["min"] <= out <= expected["max"]


@pytest.mark.parametrize("v", vectors("dateShift"))
def test_date_shift(v: dict[str, Any]) -> None:
    p, value, expected = v["params"], v["input"], v["expected"]
    key = p.get("dateShiftKey", "")
    if key.startswith("<random"):
        key = "a-random-key"
    fixed = p.get("dateShiftFixedOffsetInDays")
    offset = fixed if fixed is not None else date_shift.offset_days(p.get("dateShiftKeyPrefix") or "", key)
    out, op = date_shift.shift_date(
        value, p["nodeType"], offset, partial=p.get("enablePartialDatesForRedact", False), as_of=AS_OF
    )
    assert op == ("PERTURB" if v.get("securityLabel") == "PERTURBED" else "REDACT")
    if isinstance(expected, dict) and "min" in expected:
        _check_range(out, expected)
    elif isinstance(expected, dict) and "dayDifference" in expected:
        assert out == v["derived_expected"]
    else:
        assert out == expected


@pytest.mark.parametrize("v", vectors("dateShift.offset"))
def test_date_shift_offset(v: dict[str, Any]) -> None:
    p = v["params"]
    assert date_shift.offset_days(p["dateShiftKeyPrefix"], p["dateShiftKey"]) == v["expected"]


@pytest.mark.parametrize("v", vectors("dateShift.sameOffset"))
def test_same_prefix_same_offset(v: dict[str, Any]) -> None:
    p = v["params"]
    offset = date_shift.offset_days(p["dateShiftKeyPrefix"], p["dateShiftKey"])
    assert offset == v["derived_offset_days"]
    shifted = [date_shift.shift_date(d, "date", offset, partial=True, as_of=AS_OF)[0] for d in v["input"]]
    deltas = {
        (date.fromisoformat(s) - date.fromisoformat(d)).days for s, d in zip(shifted, v["input"], strict=True)
    }
    assert deltas == {offset}


@pytest.mark.parametrize("v", vectors("cryptoHash.hmacSha256Hex", "cryptoHash"))
def test_crypto_hash(v: dict[str, Any]) -> None:
    key, value = v["params"]["cryptoHashKey"], v["input"]
    if value is None:
        assert v["expected"] is None
        return
    if v["params"].get("isReferenceString"):
        assert hash_reference(value, key, R4_TYPES) == v["expected"]
    else:
        assert crypto_hash.hmac_hex(value, key) == v["expected"]


@pytest.mark.parametrize("v", vectors("referenceIdTransform"))
def test_reference_id_transform(v: dict[str, Any]) -> None:
    key = "k"
    value = v["input"]
    out = hash_reference(value, key, R4_TYPES)
    whole = crypto_hash.hmac_hex(value, key)
    expected = v["expected"]
    if expected == "@ID":
        assert out == whole
    else:
        prefix, _, suffix = expected.partition("@ID")
        assert out.startswith(prefix) and out.endswith(suffix) and out != whole
        hashed_id = out[len(prefix) : len(out) - len(suffix)]
        assert len(hashed_id) == 64


@pytest.mark.parametrize("v", vectors("encrypt.decrypt", "encrypt"))
def test_encrypt(v: dict[str, Any]) -> None:
    key, value = v["params"]["encryptKey"], v["input"]
    if v["method"] == "encrypt.decrypt":
        if isinstance(v["expected"], dict):
            with pytest.raises(ValueError):
                encrypt.decrypt_value(value, key)
            return
        assert (encrypt.decrypt_value(value, key) if value is not None else None) == v["expected"]
        return
    if value is None:
        return
    token = encrypt.encrypt_value(value, key)
    assert encrypt.decrypt_value(token, key) == v["expected"]["decrypts_to"]
    if value:
        assert token != encrypt.encrypt_value(value, key), "IV must be random"


@pytest.mark.parametrize("v", vectors("perturb"))
def test_perturb(v: dict[str, Any]) -> None:
    p, expected = v["params"], v["expected"]
    value = v["input"]["value"] if isinstance(v["input"], dict) else v["input"]
    node = p["nodeType"]
    fhir_type = node if node in perturb.NUMERIC_TYPES else "decimal"
    rng = random.Random(7)
    for _ in range(20):
        out = perturb.perturb_value(
            value, fhir_type, span=p["span"], range_type=p["rangeType"], round_to=p["roundTo"], rng=rng
        )
        assert Decimal(str(expected["min"])) <= Decimal(str(out)) <= Decimal(str(expected["max"]))
        if "maxDecimalPlaces" in expected:
            assert (
                -Decimal(str(out)).normalize().as_tuple().exponent <= max(expected["maxDecimalPlaces"], 0)
                or float(out).is_integer()
            )


#: Firely-specific FHIRPath outcomes fhirpathpy does not reproduce (docs/methods.md, "generalize differences"):
#: comparisons across date precisions (Firely: year-only `1990` >= @1990-01-01 is true; fhirpathpy: empty)
#: and comparing a string with a date (Firely throws; fhirpathpy: empty, so otherValues applies).
FIRELY_ONLY = {
    ("date", "1990"),
    ("date", "2000"),
    ("date", "2010-01-01"),
    ("date", "2010-01-02"),
    ("dateTime", "1990-01-01"),
    ("dateTime", "1990-01"),
    ("string", "2015-01-01"),
}


@pytest.mark.parametrize("v", vectors("generalize"))
def test_generalize(v: dict[str, Any]) -> None:
    p, expected = v["params"], v["expected"]
    if (
        isinstance(v["input"], str)
        and (p["nodeType"], v["input"]) in FIRELY_ONLY
        and any("@" in k for k in p["cases"])
    ):
        pytest.xfail("Firely-specific date comparison across precisions (documented difference)")
    if p["nodeType"][0].isupper():
        pytest.skip(
            "complex-node generalize is an engine-level rule (RuleNotApplicable), tested in tests/engine"
        )
    if isinstance(expected, dict) and "error" in expected:
        with pytest.raises(AnonymizerError):
            generalize.generalize_value(v["input"], p["nodeType"], p["cases"], p.get("otherValues", "redact"))
        return
    generalized, out = generalize.generalize_value(
        v["input"], p["nodeType"], p["cases"], p.get("otherValues", "redact")
    )
    if isinstance(expected, dict) and "generalized" in expected:
        assert (generalized, out) == (expected["generalized"], expected["value"])
    else:
        assert out == expected
