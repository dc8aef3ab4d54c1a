"""Key references resolved once, on the driver, into values that never print.

A key in a config may be a literal (as in Microsoft's files) or a reference:

- ``env:NAME``: environment variable ``NAME``;
- ``file:PATH``: the file's content without its trailing newline (relative to the config's folder);
- ``dbsecret:scope/key`` and ``keyvault:https://<vault>.vault.azure.net/secrets/<name>`` once their modules
  (:mod:`anonymizer.secrets.databricks`, :mod:`anonymizer.secrets.keyvault`) are registered.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path

from anonymizer.errors import ConfigError

__all__ = ["Secret", "is_reference", "register_scheme", "resolve_secret"]


class Secret:
    """A secret value whose ``repr``/``str`` never reveal it (``Secret(****)``)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    @property
    def value(self) -> str:
        """The secret itself; unwrap it only where it is used."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(****)"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return (Secret, (self._value,))


Resolver = Callable[[str], str]
_RESOLVERS: dict[str, Resolver] = {}
#: Schemes whose resolver lives in an optional module, imported on first use.
_LAZY_SCHEMES = {"dbsecret": "anonymizer.secrets.databricks", "keyvault": "anonymizer.secrets.keyvault"}


def register_scheme(prefix: str, resolver: Resolver) -> None:
    """Register ``resolver`` for references ``<prefix>:<rest>``; it receives ``<rest>``."""
    _RESOLVERS[prefix] = resolver


def _scheme_of(text: str) -> str | None:
    head, sep, _ = text.partition(":")
    if not sep:
        return None
    if head in _RESOLVERS or head in _LAZY_SCHEMES or head in ("env", "file"):
        return head
    return None


def is_reference(text: str) -> bool:
    """True when ``text`` is a key reference rather than a literal key."""
    return _scheme_of(text) is not None


def resolve_secret(reference_or_literal: str, *, base_dir: str | os.PathLike[str] | None = None) -> Secret:
    """Resolve a key reference (or wrap a literal). Errors name the reference, never a value."""
    scheme = _scheme_of(reference_or_literal)
    if scheme is None:
        return Secret(reference_or_literal)
    rest = reference_or_literal[len(scheme) + 1 :]
    if scheme == "env":
        value = os.environ.get(rest)
        if value is None:
            raise ConfigError(f"key reference env:{rest}: environment variable {rest} is not set")
        return Secret(value)
    if scheme == "file":
        path = Path(rest)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        try:
            return Secret(path.read_text(encoding="utf-8").rstrip("\r\n"))
        except OSError as exc:
            raise ConfigError(
                f"key reference file:{rest}: cannot read the file ({type(exc).__name__})"
            ) from None
    if scheme not in _RESOLVERS:
        importlib.import_module(_LAZY_SCHEMES[scheme])
    try:
        return Secret(_RESOLVERS[scheme](rest))
    except ConfigError:
        raise
    except Exception as exc:  # the backend's message may embed the secret: never chain it
        raise ConfigError(f"key reference {scheme}:{rest}: lookup failed ({type(exc).__name__})") from None
