"""``crypto_hash``'s HMAC-SHA256 (two pre-keyed ``hashlib`` objects) against the standard library's ``hmac``."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from anonymizer.methods import crypto_hash


def _alphabet() -> str:
    return "abcXYZ019-./:|#_ é日本\U0001f600\u00a0"


@pytest.mark.parametrize("key_length", [0, 1, 31, 32, 63, 64, 65, 100, 200])
def test_hmac_hex_is_hmac_sha256_for_keys_of_every_length(key_length: int) -> None:
    rng = random.Random(key_length)
    alphabet = _alphabet()
    key = "".join(rng.choice(alphabet) for _ in range(key_length))
    for _ in range(200):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 150)))
        expected = hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()
        assert crypto_hash.hmac_hex(value, key) == expected


def test_hmac_hex_keeps_the_empty_value_and_refuses_lone_surrogates() -> None:
    assert crypto_hash.hmac_hex("", "key") == ""
    with pytest.raises(UnicodeEncodeError):
        crypto_hash.hmac_hex("a\ud800", "key")


def test_dicom_uid_comes_from_the_hmac_of_the_uid() -> None:
    key, uid = "k" * 70, "1.2.840.10008.5.1.4.1.1.2"
    raw = bytearray(hmac.new(key.encode(), uid.encode(), hashlib.sha256).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80
    raw[8] = (raw[8] & 0x3F) | 0x80
    expected = f"2.25.{int.from_bytes(raw, 'big')}"
    assert crypto_hash.hash_dicom_uid(uid, key) == expected
    assert crypto_hash.hash_dicom_uid("urn:oid:" + uid, key) == "urn:oid:" + expected
