"""Configuration loading: Microsoft's config_error/config_ok cases, setting vectors, our stricter checks, key references."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from anonymizer.config import load_config, resolve_keys
from anonymizer.engine import Anonymizer
from anonymizer.errors import ConfigError
from anonymizer.secrets import Secret, resolve_secret
from tests.strong_keys import DATE_KEY, ENCRYPT_KEY, HASH_KEY

FIXTURES = Path(__file__).parents[1] / "fixtures/ms-anonymizer"
CASES = json.loads((FIXTURES / "cases.json").read_text())
VECTORS = json.loads((FIXTURES / "inline-vectors.json").read_text())
REPO = Path(__file__).parents[2]


def _cases(kind: str) -> list[Any]:
    return [pytest.param(c, id=c["name"]) for c in CASES if c["kind"] == kind]


@pytest.mark.parametrize("case", _cases("config_error"))
def test_microsoft_invalid_configs_are_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(FIXTURES / case["config"], allow_ephemeral_keys=True)
    assert "Traceback" not in str(exc.value)


@pytest.mark.parametrize("case", _cases("config_ok"))
def test_microsoft_valid_configs_load(case: dict[str, Any]) -> None:
    config = load_config(FIXTURES / case["config"], allow_ephemeral_keys=True, allow_weak_test_keys=True)
    assert config.processing_errors == "raise"
    assert resolve_keys(config).date_shift_key, "an empty dateShiftKey becomes a random one"


def _rule_config(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "fhirPathRules": [rule],
        "parameters": {"dateShiftKey": "k", "cryptoHashKey": "k", "encryptKey": "k" * 16},
    }


@pytest.mark.parametrize(
    "v", [v for v in VECTORS if v["method"].startswith("config.")], ids=lambda v: v["method"]
)
def test_setting_vectors(v: dict[str, Any]) -> None:
    expected = v["expected"]
    if isinstance(expected, dict) and "error" in expected:
        with pytest.raises(ConfigError):
            load_config(_rule_config(v["input"]))
        return
    rule = load_config(_rule_config(v["input"])).rules[0]
    if v["method"] == "config.perturbSetting.parse":
        assert (float(rule.span), rule.round_to, rule.range_type) == (
            expected["span"],
            expected["roundTo"],
            expected["rangeType"].lower(),
        )
    elif v["method"] == "config.generalizeSetting.parse":
        assert rule.cases == expected["cases"] and rule.other_values == expected["otherValues"].lower()
    elif v["method"] == "config.substituteSetting.parse":
        assert rule.replace_with == expected


def test_messages_name_rule_index_and_path() -> None:
    raw = {
        "fhirPathRules": [
            {"path": "Patient.id", "method": "keep"},
            {"path": "Patient.address", "method": "substitute"},
        ]
    }
    with pytest.raises(ConfigError, match=r"rule #2 \(Patient.address\).*Missing replaceWith value"):
        load_config(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"fhirPathRules": [{"path": "Patient", "method": "keep"}], "processingError": "skip"},
            "did you mean 'processingErrors'",
        ),
        (
            {"fhirPathRules": [{"path": "Patient", "method": "keep", "dateShiftRange": 5}]},
            "unknown key 'dateShiftRange' in rule #1",
        ),
        (
            {"fhirPathRules": [{"path": "Patient", "method": "keep"}], "parameters": {"dateshiftKey": "x"}},
            "did you mean 'dateShiftKey'",
        ),
        (
            {"fhirPathRules": [{"path": "Patient", "method": "mask"}]},
            "Anonymization method MASK not supported",
        ),
        (
            {"fhirPathRules": [{"path": "Patient.name", "jsonPath": "$.name", "method": "redact"}]},
            "either path or jsonPath",
        ),
        ({"fhirPathRules": [{"jsonPath": "$.name[", "method": "redact"}]}, "Invalid JSONPath"),
        (
            {
                "fhirPathRules": [{"path": "Patient", "method": "keep"}],
                "parameters": {"dateShiftScope": "galaxy"},
            },
            "dateShiftScope",
        ),
    ],
)
def test_our_stricter_checks(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(raw)


def test_missing_keys_refuse_to_run_unless_ephemeral_is_explicit() -> None:
    raw = {"fhirPathRules": [{"path": "Resource.id", "method": "cryptoHash"}]}
    with pytest.raises(ConfigError, match="cryptoHashKey is empty"):
        load_config(raw)
    keys = resolve_keys(load_config(raw, allow_ephemeral_keys=True))
    assert len(keys.crypto_hash_key.value) == 32
    assert keys.crypto_hash_key == keys.encrypt_key  # Microsoft: one shared random default
    # Only the keys a rule uses are reported as ephemeral (the engine's runs refuse to merge with them).
    assert keys.ephemeral == ("cryptoHashKey",)
    dated = {
        **raw,
        "fhirPathRules": [*raw["fhirPathRules"], {"path": "nodesByType('date')", "method": "dateShift"}],
    }
    assert Anonymizer.from_config(dated, allow_ephemeral_keys=True).ephemeral_keys == (
        "dateShiftKey",
        "cryptoHashKey",
    )
    given = {**dated, "parameters": {"cryptoHashKey": HASH_KEY, "dateShiftKey": DATE_KEY}}
    assert Anonymizer.from_config(given, allow_ephemeral_keys=True).ephemeral_keys == ()


def test_key_references_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_HASH_KEY", "s3cr3t-value-" + HASH_KEY)
    (tmp_path / "date.key").write_text("date-secret-" + DATE_KEY + "\n")
    raw = {
        "fhirPathRules": [
            {"path": "Resource.id", "method": "cryptoHash"},
            {"path": "nodesByType('date')", "method": "dateShift"},
        ],
        "parameters": {"cryptoHashKey": "env:TEST_HASH_KEY", "dateShiftKey": "file:date.key"},
    }
    config = load_config(raw, base_dir=tmp_path)
    keys = resolve_keys(config)
    assert keys.crypto_hash_key.value == "s3cr3t-value-" + HASH_KEY
    assert keys.date_shift_key.value == "date-secret-" + DATE_KEY
    text = repr(config) + str(config) + repr(keys)
    assert "s3cr3t" not in text and "date-secret" not in text
    assert "env:TEST_HASH_KEY" in repr(
        config.parameters.crypto_hash_key
    )  # a reference is a name: it may show


def test_load_config_reads_no_key_and_the_engine_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = {
        "fhirPathRules": [{"path": "Resource.id", "method": "cryptoHash"}],
        "parameters": {"cryptoHashKey": "env:TEST_UNSET_HASH_KEY"},
    }
    monkeypatch.delenv("TEST_UNSET_HASH_KEY", raising=False)
    config = load_config(raw)  # validated; the reference is not read
    assert config.rules[0].method == "cryptohash"
    with pytest.raises(ConfigError, match="TEST_UNSET_HASH_KEY"):
        Anonymizer(config)
    monkeypatch.setenv("TEST_UNSET_HASH_KEY", "k")
    with pytest.raises(ConfigError, match="cryptoHashKey is too weak") as weak:
        Anonymizer(config)
    assert "'k'" not in str(weak.value)
    monkeypatch.setenv("TEST_UNSET_HASH_KEY", HASH_KEY)
    assert Anonymizer(config).anonymize({"resourceType": "Patient", "id": "p1"})["id"] != "p1"


def test_unresolvable_reference_names_the_reference_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with pytest.raises(ConfigError, match="env:NOPE_KEY"):
        resolve_secret("env:NOPE_KEY")


def test_fingerprint_ignores_literal_key_values_but_not_rules() -> None:
    base = {
        "fhirPathRules": [{"path": "Resource.id", "method": "cryptoHash"}],
        "parameters": {"cryptoHashKey": HASH_KEY},
    }
    other_key = {**base, "parameters": {"cryptoHashKey": DATE_KEY}}
    other_rule = {**base, "fhirPathRules": [{"path": "Patient.id", "method": "cryptoHash"}]}
    assert load_config(base).fingerprint == load_config(other_key).fingerprint
    assert load_config(base).fingerprint != load_config(other_rule).fingerprint


def test_secret_never_prints_and_pickles() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret) + str(secret) + f"{secret}"
    assert pickle.loads(pickle.dumps(secret)).value == "hunter2"


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "configs").glob("*.json")))
def test_shipped_configs_load(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_ANONYMIZER_CRYPTO_HASH_KEY", HASH_KEY)
    monkeypatch.setenv("FHIR_ANONYMIZER_DATE_SHIFT_KEY", DATE_KEY)
    monkeypatch.setenv("FHIR_ANONYMIZER_ENCRYPT_KEY", ENCRYPT_KEY)
    config = load_config(REPO / "configs" / name, allow_ephemeral_keys=name.startswith("ms-"))
    assert config.rules
