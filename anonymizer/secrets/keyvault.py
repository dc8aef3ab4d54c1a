"""``keyvault:https://<vault>.vault.azure.net/secrets/<name>[/<version>]`` references (azure-identity + Key Vault)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from anonymizer.errors import ConfigError
from anonymizer.secrets import register_scheme

_URL = re.compile(
    r"^(?P<vault>https://[A-Za-z0-9-]+\.vault\.azure\.net)/secrets/(?P<name>[A-Za-z0-9-]+)(?:/(?P<version>[A-Za-z0-9]+))?/?$"
)

#: Tests inject a client factory ``(vault_url) -> SecretClient-like``; by default DefaultAzureCredential is used.
_client_factory: Callable[[str], Any] | None = None


def set_client_factory(factory: Callable[[str], Any] | None) -> None:
    """Use ``factory(vault_url)`` to build the Key Vault client (``None`` restores the default)."""
    global _client_factory
    _client_factory = factory


def _client(vault_url: str) -> Any:
    if _client_factory is not None:
        return _client_factory(vault_url)
    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient

    return SecretClient(vault_url=vault_url, credential=DefaultAzureCredential())


def resolve(rest: str) -> str:
    """The secret's current (or given) version."""
    m = _URL.match(rest)
    if not m:
        raise ConfigError(
            "keyvault: expected keyvault:https://<vault>.vault.azure.net/secrets/<name>[/<version>]"
        )
    secret = _client(m.group("vault")).get_secret(m.group("name"), m.group("version"))
    return str(secret.value)


register_scheme("keyvault", resolve)
