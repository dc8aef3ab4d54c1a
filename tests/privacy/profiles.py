"""The shipped profiles loaded with strong random test keys, on both engines."""

from __future__ import annotations

import copy
import json
import secrets
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from anonymizer.engine import Anonymizer

ROOT = Path(__file__).parents[2]
STRICT = "hipaa-safe-harbor.json"
KEEP_NOTES = "hipaa-safe-harbor-keep-notes.json"
AS_OF = date(2026, 12, 2)
_KEYS = {"cryptoHashKey": secrets.token_hex(32), "dateShiftKey": secrets.token_hex(32)}


@cache
def engines(name: str) -> tuple[Anonymizer, Anonymizer]:
    """(compiled plans, node tree) for a shipped config."""
    config = json.loads((ROOT / "configs" / name).read_text())
    config["parameters"] = {**config["parameters"], **_KEYS}
    config["parameters"].pop("encryptKey", None)
    return (
        Anonymizer.from_config(config, as_of=AS_OF),
        Anonymizer.from_config(config, as_of=AS_OF, compiled=False),
    )


def anonymize(name: str, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource through both engines of a shipped profile; asserts they agree byte for byte."""
    fast, tree = engines(name)
    out = fast.anonymize(copy.deepcopy(resource))
    assert json.dumps(out) == json.dumps(tree.anonymize(copy.deepcopy(resource)))
    return out
