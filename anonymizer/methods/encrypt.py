"""encrypt: AES-CBC with PKCS7 padding and a random IV, ``base64(IV || ciphertext)`` (.NET ``Aes.Create()`` defaults)."""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

VALID_KEY_BITS = (128, 192, 256)


def _key_bytes(key: str) -> bytes:
    raw = key.encode("utf-8")
    if len(raw) * 8 not in VALID_KEY_BITS:
        raise ValueError(
            f"Invalid encrypt key size : {len(raw) * 8} bits! Please provide key sizes of 128, 192 or 256 bits."
        )
    return raw


def encrypt_value(value: str, key: str) -> str:
    """Encrypt the UTF-8 value; empty stays empty."""
    if not value:
        return value
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    data = padder.update(value.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_key_bytes(key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(data) + encryptor.finalize()).decode("ascii")


def decrypt_value(token: str, key: str) -> str:
    """Inverse of :func:`encrypt_value` (for tests and for holders of the key)."""
    if not token:
        return token
    raw = base64.b64decode(token)
    decryptor = Cipher(algorithms.AES(_key_bytes(key)), modes.CBC(raw[:16])).decryptor()
    data = decryptor.update(raw[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(data) + unpadder.finalize()).decode("utf-8")
