"""Rules configuration: Microsoft's format, validated on load, keys resolved by reference."""

from __future__ import annotations

from anonymizer.config.loader import fingerprint, load_config
from anonymizer.config.model import AnonymizerConfig, Parameters, RuleConfig

__all__ = ["AnonymizerConfig", "Parameters", "RuleConfig", "fingerprint", "load_config"]
