"""Key parameters: validated and kept as references when a configuration loads, resolved when an engine is built.

``load_config`` never reads a secret: it records each key parameter as written (a reference such as
``env:NAME``, ``file:PATH``, ``dbsecret:scope/key``, ``keyvault:URL``, or a literal key held as a
:class:`~anonymizer.secrets.Secret`). :func:`resolve_keys` reads them through :mod:`anonymizer.secrets` when an
engine is built, then refuses weak keys and encrypt keys of the wrong size, never quoting a value.
"""

from __future__ import annotations

import os
import secrets as _random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from anonymizer.config.key_strength import MIN_KEY_BYTES, key_weakness
from anonymizer.errors import ConfigError
from anonymizer.secrets import Secret, is_reference, resolve_secret

if TYPE_CHECKING:
    from anonymizer.config.model import AnonymizerConfig

KEY_PARAMETERS = ("dateShiftKey", "cryptoHashKey", "encryptKey")


@dataclass(frozen=True)
class KeyReference:
    """One key parameter as written; ``written`` is empty when the configuration gives none."""

    parameter: str
    written: Secret
    base_dir: str | None = None
    #: an empty or unresolvable key becomes a random one (Microsoft's default; ``--allow-ephemeral-keys``)
    ephemeral: bool = False

    def __repr__(self) -> str:  # a reference is a name and may show; a literal key never does
        text = self.written.value
        shown = text if text and is_reference(text) else ("<literal key>" if text else "<empty>")
        return f"KeyReference({self.parameter}={shown})"

    def __bool__(self) -> bool:
        return bool(self.written) or self.ephemeral


@dataclass(frozen=True)
class ResolvedKeys:
    """The key values an engine uses (as :class:`Secret`: never printed)."""

    date_shift_key: Secret
    crypto_hash_key: Secret
    encrypt_key: Secret


def key_reference(
    name: str, value: object, *, base_dir: str | os.PathLike[str] | None, ephemeral: bool
) -> KeyReference:
    """Validate a key parameter's form (a string or nothing) without resolving it."""
    if value not in (None, "") and not isinstance(value, str):
        raise ConfigError(f"parameters.{name} must be a string (a key or a reference such as env:NAME)")
    return KeyReference(name, Secret(value or ""), str(base_dir) if base_dir is not None else None, ephemeral)


def keys_needed(methods: set[str], fixed_offset: object) -> dict[str, bool]:
    """Which key parameters the rules' methods need (a fixed date-shift offset needs no date-shift key)."""
    return {
        "dateShiftKey": "dateshift" in methods and fixed_offset is None,
        "cryptoHashKey": "cryptohash" in methods,
        "encryptKey": "encrypt" in methods,
    }


def check_encrypt_key_size(key: str) -> None:
    """AES takes 128, 192 or 256-bit keys (Microsoft's message; the key itself is never quoted)."""
    bits = len(key.encode("utf-8")) * 8
    if bits not in (128, 192, 256):
        raise ConfigError(
            f"Invalid encrypt key size : {bits} bits! Please provide key sizes of 128, 192 or 256 bits."
        )


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
    for name, ref in refs.items():
        if resolved[name] or not ref.ephemeral:
            continue
        if name == "dateShiftKey" and p.date_shift_fixed_offset is not None:
            continue
        resolved[name] = Secret(_random.token_hex(16) if name == "dateShiftKey" else shared_random)
    if refs["encryptKey"].written:
        check_encrypt_key_size(resolved["encryptKey"].value)
    if not config.weak_test_keys_allowed:
        _refuse_weak_keys(config, resolved)
    return ResolvedKeys(resolved["dateShiftKey"], resolved["cryptoHashKey"], resolved["encryptKey"])


def _refuse_weak_keys(config: AnonymizerConfig, resolved: dict[str, Secret]) -> None:
    """Stop on a weak key that a rule uses (hashing, encryption, date shift; never quoting the key)."""
    methods = {r.method for r in config.rules}
    if any(r.method == "scrubtext" and r.extra.get("dates") == "shift" for r in config.rules):
        methods.add("dateshift")  # scrubText shifts dates in text with the date-shift key
    for name, needed in keys_needed(methods, config.parameters.date_shift_fixed_offset).items():
        weakness = key_weakness(resolved[name].value) if needed else None
        if weakness:
            raise ConfigError(
                f"parameters.{name} is too weak ({weakness}): a short or repeated key is recovered by brute force "
                f"from any kept value that equals a hashed one. Use {MIN_KEY_BYTES} or more random bytes, e.g. "
                f"`python -c 'import secrets; print(secrets.token_hex(32))'`; Microsoft's test fixtures only: "
                f"allow_weak_test_keys=True (--allow-weak-test-keys)."
            )
