"""Read a rules file as Microsoft's parser (Newtonsoft) does: trailing commas allowed, duplicate keys refused."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from anonymizer.errors import ConfigError

__all__ = ["read_raw_config"]


def read_raw_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object of a rules file, parsed as :func:`load_config` parses it (nothing validated or resolved)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError:
        raise ConfigError(f"Failed to read configuration file {path}") from None
    return _parse_json(text, str(path))


def _parse_json(text: str, where: str) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ConfigError(f"Failed to parse configuration file {where}: duplicate key {key!r}")
            out[key] = value
        return out

    try:
        data = json.loads(_strip_trailing_commas(text), object_pairs_hook=no_duplicates, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"Failed to parse configuration file {where}: {exc.msg} at line {exc.lineno}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"Failed to parse configuration file {where}: the top level must be a JSON object")
    return data


def _strip_trailing_commas(text: str) -> str:
    """Drop commas before ``]``/``}`` outside strings: Newtonsoft (Microsoft's parser) accepts them."""
    out: list[str] = []
    in_string = escaped = False
    pending_comma: int | None = None
    for ch in text:
        if in_string:
            if ch == '"' and not escaped:
                in_string = False
            escaped = (ch == "\\") and not escaped
            out.append(ch)
            continue
        if ch == '"':
            in_string = True
            pending_comma = None
        elif ch in "]}" and pending_comma is not None:
            out[pending_comma] = ""
            pending_comma = None
        elif ch == ",":
            pending_comma = len(out)
        elif not ch.isspace():
            pending_comma = None
        out.append(ch)
    return "".join(out)
