"""Resolve a configuration's key references when an engine is built (never when it is loaded).

Keys are read through :mod:`anonymizer.secrets`; empty or unresolvable keys become random ones only where the
configuration was loaded with ``allow_ephemeral_keys``; weak keys and encrypt keys of the wrong size are refused.
No message quotes a key.
"""

from __future__ import annotations

import secrets as _random
from dataclasses import dataclass

from anonymizer.config.key_strength import MIN_KEY_BYTES, key_weakness
from anonymizer.config.keys import check_encrypt_key_size, keys_needed
from anonymizer.config.model import AnonymizerConfig
from anonymizer.errors import ConfigError
from anonymizer.secrets import Secret, resolve_secret


@dataclass(frozen=True)
class ResolvedKeys:
    """The key values an engine uses (as :class:`Secret`: never printed)."""

    date_shift_key: Secret
    crypto_hash_key: Secret
    encrypt_key: Secret
    #: The key parameters a rule uses that got random values here (``--allow-ephemeral-keys``): pseudonyms and
    #: shifted dates made with them match no other run's.
    ephemeral: tuple[str, ...] = ()


def resolve_keys(config: AnonymizerConfig) -> ResolvedKeys:
    """Read the configuration's keys (through their references), give ephemeral ones their random values, check them.

    Raises :class:`ConfigError` naming the parameter (never the value) for an unresolvable reference, an encrypt
    key of the wrong size, or a weak key a rule uses (unless the configuration was loaded for test fixtures).
    """
    p = config.parameters
    refs = {"dateShiftKey": p.date_shift_key, "cryptoHashKey": p.crypto_hash_key, "encryptKey": p.encrypt_key}
    resolved: dict[str, Secret] = {}
    for name, ref in refs.items():
        written = ref.written.value
        try:
            resolved[name] = resolve_secret(written, base_dir=ref.base_dir) if written else Secret("")
        except ConfigError:
            if not ref.ephemeral:
                raise
            resolved[name] = Secret("")  # explicitly allowed: an unresolvable key becomes an ephemeral one
    shared_random = _random.token_hex(16)  # Microsoft: cryptoHashKey and encryptKey share one random default
    used = _keys_used(config)
    ephemeral: list[str] = []
    for name, ref in refs.items():
        if resolved[name] or not ref.ephemeral:
            continue
        if name == "dateShiftKey" and p.date_shift_fixed_offset is not None:
            continue
        resolved[name] = Secret(_random.token_hex(16) if name == "dateShiftKey" else shared_random)
        if used[name]:
            ephemeral.append(name)
    if refs["encryptKey"].written:
        check_encrypt_key_size(resolved["encryptKey"].value)
    if not config.weak_test_keys_allowed:
        _refuse_weak_keys(config, resolved)
    return ResolvedKeys(
        resolved["dateShiftKey"], resolved["cryptoHashKey"], resolved["encryptKey"], tuple(ephemeral)
    )


def _keys_used(config: AnonymizerConfig) -> dict[str, bool]:
    """Which key parameters a rule uses (hashing, encryption, date shift, scrubText's date shift)."""
    methods = {r.method for r in config.rules}
    if any(r.method == "scrubtext" and r.extra.get("dates") == "shift" for r in config.rules):
        methods.add("dateshift")  # scrubText shifts dates in text with the date-shift key
    return keys_needed(methods, config.parameters.date_shift_fixed_offset)


def _refuse_weak_keys(config: AnonymizerConfig, resolved: dict[str, Secret]) -> None:
    """Stop on a weak key that a rule uses (hashing, encryption, date shift; never quoting the key)."""
    for name, needed in _keys_used(config).items():
        weakness = key_weakness(resolved[name].value) if needed else None
        if weakness:
            raise ConfigError(
                f"parameters.{name} is too weak ({weakness}): a short or repeated key is recovered by brute force "
                f"from any kept value that equals a hashed one. Use {MIN_KEY_BYTES} or more random bytes, e.g. "
                f"`python -c 'import secrets; print(secrets.token_hex(32))'`; Microsoft's test fixtures only: "
                f"allow_weak_test_keys=True (--allow-weak-test-keys)."
            )
