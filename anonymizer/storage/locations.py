"""Storage locations compared as fully qualified paths (scheme, authority, normalised path), not as text.

``/x/research/q``, ``file:///x/research/q``, ``file:/x/research/./q`` and ``../x/research/q`` seen from ``/x/y``
are the same place; ``abfss://C@Acct.dfs.core.windows.net/zone`` and ``abfss://C@acct.dfs.core.windows.net/zone/``
too. Comparing the text lets a quarantine (PHI) land inside the research zone.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: Schemes that name the local file system.
_LOCAL_SCHEMES = ("", "file")


def qualified(location: str) -> tuple[str, str, str]:
    """``(scheme, authority, path)`` of a location: lower-case scheme, local paths absolute and resolved
    (symlinks included), remote paths normalised (``.``, ``..``, repeated and trailing ``/`` removed)."""
    parts = urlsplit(location)
    scheme = parts.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        scheme, parts = "", urlsplit("")._replace(path=location)
    if scheme in _LOCAL_SCHEMES:
        raw = unquote(parts.path) if scheme else location
        return "file", "", str(Path(raw).expanduser().resolve())
    authority = _authority(parts.netloc, scheme)
    path = posixpath.normpath("/" + unquote(parts.path).lstrip("/"))
    return scheme, authority, path.rstrip("/") or "/"


def _authority(netloc: str, scheme: str) -> str:
    """Host names are case-insensitive; a container or user before ``@`` is kept as written (except for s3a
    buckets, which are lower-case by rule)."""
    user, at, host = netloc.rpartition("@")
    return f"{user}{at}{host.lower()}" if scheme != "s3a" else netloc.lower()


def is_at_or_below(child: str, parent: str) -> bool:
    """True when ``child`` is ``parent`` itself or anywhere below it (on the same storage)."""
    c_scheme, c_auth, c_path = qualified(child)
    p_scheme, p_auth, p_path = qualified(parent)
    if _family(c_scheme) != _family(p_scheme) or c_auth != p_auth:
        return False
    return c_path == p_path or c_path.startswith(p_path.rstrip("/") + "/")


def _family(scheme: str) -> str:
    """Schemes that reach the same storage: ``abfs``/``abfss`` (ADLS), ``wasb``/``wasbs``, ``s3``/``s3a``."""
    return {"abfss": "abfs", "wasbs": "wasb", "s3a": "s3", "s3n": "s3"}.get(scheme, scheme)
