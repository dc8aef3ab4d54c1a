"""Key parameters: validated and kept as references when a configuration loads, resolved when an engine is built.

``load_config`` never reads a secret: it records each key parameter as written (a reference such as
``env:NAME``, ``file:PATH``, ``dbsecret:scope/key``, ``keyvault:URL``, or a literal key held as a
:class:`~anonymizer.secrets.Secret`). :func:`anonymizer.config.resolve.resolve_keys` reads them when an engine is
built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from anonymizer.errors import ConfigError
from anonymizer.secrets import Secret, is_reference

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
