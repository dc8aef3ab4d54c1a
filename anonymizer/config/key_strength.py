"""Keys strong enough for keyed hashing, encryption and date shifting.

A short key is recovered by brute force from any kept identifier that equals a hashed id (Synthea's
``Organization.identifier`` is the Organization id): one character takes milliseconds. Keys need at least
:data:`MIN_KEY_BYTES` bytes (UTF-8) and must not be an obvious repetition (``aaaa...``, ``abcabc...``).
Microsoft's test fixtures use short keys; loading them needs the explicit ``allow_weak_test_keys`` opt-in.
"""

from __future__ import annotations

#: 256 bits: a random key this long cannot be searched, and it is the AES-256 key size.
MIN_KEY_BYTES = 32
#: A key built from fewer distinct characters, or spelling one unit two or more times, is "obviously repeated".
MIN_DISTINCT_CHARACTERS = 8


def key_weakness(key: str) -> str | None:
    """Why ``key`` is too weak (never quoting it), or ``None`` when it is acceptable."""
    size = len(key.encode("utf-8"))
    if size < MIN_KEY_BYTES:
        return f"shorter than {MIN_KEY_BYTES} bytes"
    if len(set(key)) < MIN_DISTINCT_CHARACTERS:
        return f"fewer than {MIN_DISTINCT_CHARACTERS} distinct characters"
    unit = _repeat_unit(key)
    if unit < len(key):
        return f"a pattern of {unit} characters repeated"
    return None


def _repeat_unit(key: str) -> int:
    """Length of the shortest prefix whose repetition spells ``key`` (``len(key)`` when there is none)."""
    for unit in range(1, len(key) // 2 + 1):
        if all(key[i] == key[i % unit] for i in range(len(key))):
            return unit
    return len(key)
