"""cryptoHash: HMAC-SHA256 (lowercase hex), reference-aware for ``Reference.reference``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

_URL_CHARS = r"[A-Za-z0-9/.:%$]"  # Microsoft's class: no '-' or '_' (hosts with them are hashed whole)
_ID = r"[A-Za-z0-9\-.]{1,64}"
_LITERAL_REF = re.compile(
    rf"^(?P<prefix>(?:https?://{_URL_CHARS}*/)?(?P<type>[A-Z][A-Za-z]*)/)(?P<id>{_ID})(?P<suffix>/_history/{_ID})?$"
)
_URN_OID = re.compile(r"^urn:oid:(?P<id>[0-2](?:\.(?:0|[1-9][0-9]*))+)$")
_URN_UUID = re.compile(
    r"^urn:uuid:(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)
# Our joinable form also accepts any absolute base URL and conditional references.
_ANY_LITERAL_REF = re.compile(
    rf"^(?:[a-z][a-z0-9+.-]*://[^?#]*/)?(?P<type>[A-Z][A-Za-z]*)/(?P<id>{_ID})(?P<suffix>/_history/{_ID})?$"
)
_CONDITIONAL_REF = re.compile(r"^(?:[a-z][a-z0-9+.-]*://[^?#]*/)?(?P<type>[A-Z][A-Za-z]*)\?(?P<query>.+)$")


_BLOCK = 64  # SHA-256's block size (RFC 2104's B)
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


@lru_cache(maxsize=64)
def _keyed(key: str) -> tuple[Any, Any]:
    """The HMAC-SHA256 inner and outer hashes of ``key`` (UTF-8) with its padded key block already absorbed.

    RFC 2104 as :mod:`hmac` computes it; copying these two ``hashlib`` objects per value costs about half of
    copying an ``hmac.HMAC`` (``tests/methods`` compare the two on random keys and values).
    """
    raw = key.encode("utf-8")
    if len(raw) > _BLOCK:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(_BLOCK, b"\0")
    return hashlib.sha256(raw.translate(_IPAD)), hashlib.sha256(raw.translate(_OPAD))


def _mac(data: bytes, key: str) -> Any:
    """The finished HMAC-SHA256 of ``data`` (a ``hashlib`` object: ``digest()``/``hexdigest()``)."""
    inner_keyed, outer_keyed = _keyed(key)
    inner = inner_keyed.copy()
    inner.update(data)
    outer = outer_keyed.copy()
    outer.update(inner.digest())
    return outer


@lru_cache(maxsize=64)
def hex_hasher(key: str) -> Callable[[str], str]:
    """:func:`hmac_hex` with ``key`` bound: ``hasher(value)`` (one call per value, the keyed hashes at hand).

    Raises ``UnicodeEncodeError`` at once for a key UTF-8 cannot encode (:func:`hmac_hex` raises it for each
    value but the empty one).
    """
    inner_keyed, outer_keyed = _keyed(key)
    copy_inner, copy_outer = inner_keyed.copy, outer_keyed.copy

    def hexed(value: str) -> str:
        if not value:
            return value
        inner = copy_inner()
        inner.update(value.encode("utf-8"))
        outer = copy_outer()
        outer.update(inner.digest())
        return outer.hexdigest()

    return hexed


def hmac_hex(value: str, key: str) -> str:
    """HMAC-SHA256 of the UTF-8 value with the UTF-8 key, lowercase hex; empty stays empty."""
    if not value:
        return value  # (the key is not read)
    return hex_hasher(key)(value)


#: The UID root for UUID-derived UIDs (ISO/IEC 9834-8, DICOM PS3.5 B.2): ``2.25.<the UUID as one integer>``.
UUID_UID_ROOT = "2.25."
_URN_OID_PREFIX = "urn:oid:"


def hash_dicom_uid(value: str, key: str) -> str:
    """Our ``hashFormat: dicomUid``: a keyed pseudonym that is itself a valid DICOM UID.

    The first 128 bits of the HMAC-SHA256 become a version-8 (custom) RFC 9562 UUID written as ``2.25.<decimal>``
    (at most 44 characters; DICOM allows 64). Equal UIDs give equal pseudonyms, so study, series and instance
    still join; a ``urn:oid:`` prefix is kept. Empty stays empty.
    """
    if not value:
        return value
    prefix = _URN_OID_PREFIX if value.startswith(_URN_OID_PREFIX) else ""
    raw = bytearray(_mac(value[len(prefix) :].encode("utf-8"), key).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80  # version 8
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC variant
    return f"{prefix}{UUID_UID_ROOT}{int.from_bytes(raw, 'big')}"


def hash_reference(value: str, key: str, resource_types: frozenset[str]) -> str:
    """Microsoft's reference-aware hash: only the id part of known reference forms changes."""
    return _reference(value, hex_hasher(key), resource_types)


def hash_reference_joinable(value: str, key: str, resource_types: frozenset[str]) -> str:
    """Our ``referenceHashing: joinable`` form: references hash so that joins on hashed ids survive.

    - ``Type/id`` under any base URL (also hosts with ``-``/``_``) -> ``Type/<hash(id)>`` (the base is dropped:
      it names the source server);
    - ``urn:uuid:<id>`` -> ``urn:uuid:<hash(id)>`` (the id hashes like the resource's own ``id``);
    - conditional ``Type?identifier=system|value`` -> the value part hashed, system kept;
    - contained ``#id`` and ``urn:oid:`` as Microsoft; anything else hashed whole.
    """
    return _reference_joinable(value, hex_hasher(key), resource_types)


def reference_hasher(key: str, resource_types: frozenset[str], *, joinable: bool,
                     hexed: Callable[[str], str] | None = None) -> Callable[[str], str]:  # fmt: skip
    """:func:`hash_reference` (or :func:`hash_reference_joinable`) with ``key`` and ``resource_types`` bound.

    ``hexed``: the id hash to use (``hex_hasher(key)`` or a memo of it, which must give the same results).
    The common forms, ``Type/id`` and ``urn:uuid:<uuid>``, are parsed without the regular expressions
    (:func:`split_plain_reference`, which accepts only what they accept, with the same parts).
    """
    if hexed is None:
        hexed = hex_hasher(key)
    body = _reference_joinable if joinable else _reference
    split = split_plain_reference

    def hashed(value: str) -> str:
        head = split(value, resource_types)
        if head is not None:  # (the forms both bodies write as the head + the id's hash)
            return head + hexed(value[len(head) :])
        return body(value, hexed, resource_types)

    return hashed


#: An id (``_ID``) and a UUID, as whole strings: one character class each, much cheaper to match than the
#: reference patterns above with their optional parts and groups.
_ID_ONLY = re.compile(_ID).fullmatch
_UUID_ONLY = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
).fullmatch
_URN_UUID_PREFIX = "urn:uuid:"


def split_plain_reference(value: str, resource_types: frozenset[str]) -> str | None:
    """For ``Type/id`` (``Type`` a resource type, ``id`` as ``_ID``) and ``urn:uuid:<uuid>``: the text before the
    id (``Type/``, ``urn:uuid:``), which both reference hashes keep, hashing the rest; ``None`` for any other
    value (the reference patterns decide those).

    Accepts exactly a subset of what :data:`_LITERAL_REF` / :data:`_ANY_LITERAL_REF` (a resource type, no base,
    no history) and :data:`_URN_UUID` match, with the same parts, so the caller's result equals the patterns'
    path: ``str.partition`` and a whole-string match of the id (about 0.3 against 0.6 us for the pattern match
    and its groups). (``$`` in the patterns also matches before a final newline: a full match refuses that.)
    """
    kind, slash, ident = value.partition("/")
    if slash:
        if kind in resource_types and _ID_ONLY(ident) is not None:
            return kind + "/"
        return None
    if value.startswith(_URN_UUID_PREFIX) and _UUID_ONLY(value, 9) is not None:
        return _URN_UUID_PREFIX
    return None


def _reference(value: str, hexed: Callable[[str], str], resource_types: frozenset[str]) -> str:
    if value.startswith("#"):
        return "#" + hexed(value[1:])
    m = _LITERAL_REF.match(value)
    if m:
        prefix, kind, ident, suffix = m.group("prefix", "type", "id", "suffix")
        if kind in resource_types:
            return prefix + hexed(ident) + (suffix or "")
    m = _URN_OID.match(value) or _URN_UUID.match(value)
    if m:
        return value[: m.start("id")] + hexed(m.group("id"))
    return hexed(value)


def _reference_joinable(value: str, hexed: Callable[[str], str], resource_types: frozenset[str]) -> str:
    if value.startswith("#"):
        return "#" + hexed(value[1:])
    m = _ANY_LITERAL_REF.match(value)
    if m:
        kind, ident, suffix = m.group("type", "id", "suffix")
        if kind in resource_types:
            return f"{kind}/{hexed(ident)}{suffix or ''}"
    m = _URN_OID.match(value) or _URN_UUID.match(value)
    if m:
        return value[: m.start("id")] + hexed(m.group("id"))
    m = _CONDITIONAL_REF.match(value)
    if m and m.group("type") in resource_types:
        return f"{m.group('type')}?{_hash_query(m.group('query'), hexed)}"
    return hexed(value)


def _hash_query(query: str, hexed: Callable[[str], str]) -> str:
    parts = []
    for item in query.split("&"):
        name, sep, val = item.partition("=")
        system, bar, code = val.rpartition("|")
        hashed = f"{system}|{hexed(code)}" if bar else hexed(val)
        parts.append(f"{name}{sep}{hashed}")
    return "&".join(parts)
