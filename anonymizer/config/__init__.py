"""Rules configuration: Microsoft's format, validated on load; keys kept as references until an engine is built."""

from __future__ import annotations

from anonymizer.config.keys import KeyReference
from anonymizer.config.loader import fingerprint, load_config
from anonymizer.config.model import AnonymizerConfig, Parameters, RuleConfig
from anonymizer.config.resolve import ResolvedKeys, resolve_keys

__all__ = [
    "AnonymizerConfig",
    "KeyReference",
    "Parameters",
    "ResolvedKeys",
    "RuleConfig",
    "fingerprint",
    "load_config",
    "resolve_keys",
]
