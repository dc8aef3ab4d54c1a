"""The regex-free parse of plain references (``Type/id``, ``urn:uuid:``) against the regular expressions."""

from __future__ import annotations

import random
import uuid

import pytest

from anonymizer.fhir.model import r4
from anonymizer.methods import crypto_hash
from anonymizer.methods.crypto_hash import (
    _ANY_LITERAL_REF,
    _LITERAL_REF,
    _URN_UUID,
    hash_reference,
    hash_reference_joinable,
    reference_hasher,
    split_plain_reference,
)

TYPES = r4().resource_types
KEY = "reference-fast-path-test-key-0123456789"


def _regex_head(value: str) -> str | None:
    """The text before the id when the regular expressions read ``value`` as ``Type/id`` (no base, no history) or
    ``urn:uuid:<uuid>`` with the id running to its end; else None (``$`` also matches before a final newline)."""
    m = _LITERAL_REF.match(value)
    if (
        m
        and m.group("type") in TYPES
        and m.group("suffix") is None
        and m.group("prefix") == m.group("type") + "/"
    ):
        j = _ANY_LITERAL_REF.match(value)
        assert j is not None and j.group("id") == m.group("id")
        return m.group("prefix") if m.end("id") == len(value) else None
    u = _URN_UUID.match(value)
    if u and u.end("id") == len(value):
        return value[: u.start("id")]
    return None


def _edge_values(rng: random.Random) -> list[str]:
    types = sorted(TYPES)
    id_chars = "ABCxyz019-."
    noise = "/:#?|_ \n\t\u00e9\U0001f600\ud800%$\x00Zz"
    out = ["", "/", "Patient/", "Patient/a", "Patient//a", "Patient/a/", "Patient/a\n", "Patient/a\r", "patient/a",
           "Patientx/a", "Patient /a", " Patient/a", "Patient/" + "a" * 64, "Patient/" + "a" * 65, "#Patient/a",
           "Patient/a/_history/1", "http://x/Patient/a", "urn:uuid:", "urn:oid:1.2.3", "Patient/--", "Patient/..",
           "Patient?identifier=a|b", "urn:uuid:" + str(uuid.UUID(int=0)), "urn:uuid:" + str(uuid.uuid4()).upper(),
           "urn:uuid:" + str(uuid.uuid4()) + "\n", "urn:uuid:" + str(uuid.uuid4())[:-1] + "g",
           "urn:uuid:" + str(uuid.uuid4()).replace("-", "", 1) + "-", "URN:uuid:" + str(uuid.uuid4()),
           "urn:uuid:" + "-" * 36, "urn:uuid:/" + str(uuid.uuid4())[1:], "Patient/\u0661"]  # fmt: skip
    for _ in range(20_000):
        form = rng.randrange(5)
        if form == 0:
            ident = "".join(rng.choice(id_chars) for _ in range(rng.randint(0, 70)))
            value = f"{rng.choice(types)}/{ident}"
        elif form == 1:
            u = list(str(uuid.UUID(int=rng.getrandbits(128))))
            for _ in range(rng.randint(0, 2)):
                u[rng.randrange(len(u))] = rng.choice("0aF-g/\nZ")
            value = "urn:uuid:" + "".join(u)
        elif form == 2:  # a near miss: one character changed, inserted or removed anywhere
            head = rng.choice([f"{rng.choice(types)}/", "urn:uuid:"])
            base = list(f"{head}{uuid.UUID(int=rng.getrandbits(128))}")
            i = rng.randrange(len(base))
            op = rng.randrange(3)
            if op == 0:
                base[i] = rng.choice(noise + id_chars)
            elif op == 1:
                base.insert(i, rng.choice(noise + id_chars))
            else:
                del base[i]
            value = "".join(base)
        elif form == 3:
            value = "".join(rng.choice(noise + id_chars + "urnid") for _ in range(rng.randint(0, 50)))
        else:
            value = rng.choice(["urn:uuid:", "", "Patient/", "Observation/"]) + "".join(
                rng.choice(noise + id_chars) for _ in range(rng.randint(0, 40))
            )
        out.append(value)
    return out


def test_every_resource_type_is_a_name_the_regexes_accept() -> None:
    for kind in TYPES:
        assert _LITERAL_REF.match(f"{kind}/a") and _ANY_LITERAL_REF.match(f"{kind}/a")


def test_the_fast_parse_accepts_only_what_the_regexes_accept_with_the_same_parts() -> None:
    rng = random.Random(20261203)
    accepted = 0
    for value in _edge_values(rng):
        head = split_plain_reference(value, TYPES)
        want = _regex_head(value)
        if head is not None:
            accepted += 1
            assert head == want, repr(value)
        else:  # every plain form is taken here (the regular expressions are only the fallback)
            assert want is None, repr(value)
    assert accepted > 3_000


@pytest.mark.parametrize("joinable", [False, True])
def test_the_hasher_equals_the_regex_hash(joinable: bool) -> None:
    rng = random.Random(joinable)
    hashed = reference_hasher(KEY, TYPES, joinable=joinable)
    slow = hash_reference_joinable if joinable else hash_reference
    for value in _edge_values(rng):
        try:
            want: object = slow(value, KEY, TYPES)
        except UnicodeEncodeError as exc:
            want = type(exc)
        try:
            got: object = hashed(value)
        except UnicodeEncodeError as exc:
            got = type(exc)
        assert got == want, repr(value)


def test_the_hasher_uses_the_given_id_hash() -> None:
    seen: list[str] = []

    def hexed(value: str) -> str:
        seen.append(value)
        return crypto_hash.hmac_hex(value, KEY)

    hashed = reference_hasher(KEY, TYPES, joinable=True, hexed=hexed)
    assert hashed("Patient/abc") == "Patient/" + crypto_hash.hmac_hex("abc", KEY)
    assert hashed("http://x/Patient/abc") == "Patient/" + crypto_hash.hmac_hex("abc", KEY)
    assert seen == ["abc", "abc"]
