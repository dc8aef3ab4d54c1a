"""Issue #16 point 10: short or repeated keys are refused for hashing, encryption and date shift."""

from __future__ import annotations

from pathlib import Path

import pytest

from anonymizer.config import load_config, resolve_keys
from anonymizer.engine import Anonymizer
from anonymizer.errors import ConfigError
from tests.strong_keys import DATE_KEY, ENCRYPT_KEY, HASH_KEY

MS_CONFIG = Path(__file__).parents[1] / "fixtures/ms-anonymizer/functional/configs/common-config.json"


def _config(method: str, name: str, key: str) -> dict:
    path = "nodesByType('date')" if method == "dateShift" else "Resource.id"
    return {"fhirPathRules": [{"path": path, "method": method}], "parameters": {name: key}}


WEAK = ["k", "hunter2!", "short-but-not-32-bytes", "a" * 40, "abcd" * 10, "0123456789abcdef" * 2]


@pytest.mark.parametrize("key", WEAK)
@pytest.mark.parametrize(
    ("method", "name"),
    [("cryptoHash", "cryptoHashKey"), ("dateShift", "dateShiftKey"), ("encrypt", "encryptKey")],
)
def test_weak_keys_are_refused_without_showing_them(method: str, name: str, key: str) -> None:
    if method == "encrypt" and len(key) not in (16, 24, 32):
        pytest.skip("not an AES key size: refused by the size check already")
    with pytest.raises(ConfigError, match=f"{name} is too weak") as caught:
        Anonymizer(load_config(_config(method, name, key)))
    assert len(key) == 1 or key not in str(caught.value)


@pytest.mark.parametrize(
    ("method", "name", "key"),
    [("cryptoHash", "cryptoHashKey", HASH_KEY), ("dateShift", "dateShiftKey", DATE_KEY),
     ("encrypt", "encryptKey", ENCRYPT_KEY)],
)  # fmt: skip
def test_strong_keys_load(method: str, name: str, key: str) -> None:
    assert Anonymizer(load_config(_config(method, name, key))).engine_report["engine"] == "compiled"


def test_microsofts_fixtures_need_the_explicit_opt_in() -> None:
    with pytest.raises(ConfigError, match="too weak"):
        Anonymizer(load_config(MS_CONFIG))
    assert Anonymizer(load_config(MS_CONFIG, allow_weak_test_keys=True)).config.rules


def test_unused_or_fixed_offset_keys_are_not_judged() -> None:
    keep = {"fhirPathRules": [{"path": "Patient", "method": "keep"}], "parameters": {"cryptoHashKey": "k"}}
    assert Anonymizer(load_config(keep)).config.rules
    fixed = _config("dateShift", "dateShiftKey", "k")
    fixed["parameters"]["dateShiftFixedOffsetInDays"] = 10
    assert Anonymizer(load_config(fixed)).config.rules


def test_ephemeral_keys_are_strong() -> None:
    config = load_config(_config("cryptoHash", "cryptoHashKey", ""), allow_ephemeral_keys=True)
    assert len(resolve_keys(config).crypto_hash_key.value) >= 32
