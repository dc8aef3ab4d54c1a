"""The rules file verify is given, read as the engine reads it, and checked against the run that wrote the zone.

Verify needs no keys: the config is validated with key references standing in as placeholders (never resolved).
Its fingerprint (:func:`anonymizer.config.loader.fingerprint`, key values masked) must equal the one the run
recorded for its rules file (``config_file_fingerprint`` in ``run-summary.json``; older summaries: the run's
``config_fingerprint``): a report about another config's promises would prove nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from anonymizer.config.lint import validate_without_keys
from anonymizer.config.loader import fingerprint, read_raw_config
from anonymizer.config.model import AnonymizerConfig
from anonymizer.errors import ConfigError
from anonymizer.spark.summary import RunSummary
from anonymizer.spark.zone_fs import ZoneFsError, read_local_bytes


class ConfigMismatchError(ConfigError):
    """The config given to verify is not the one the research zone was written with."""


@dataclass(frozen=True)
class VerifyConfig:
    """The validated config, the SHA-256 of the file's bytes and its key-free fingerprint."""

    path: str
    config: AnonymizerConfig
    sha256: str
    fingerprint: str


def load_verify_config(path: str) -> VerifyConfig:
    """Read and validate the rules file (keys are never resolved); :class:`ConfigError` when it is invalid."""
    try:
        data = read_local_bytes(path)
    except (OSError, ZoneFsError) as exc:
        raise ConfigError(f"cannot read config {path}: {type(exc).__name__}") from None
    raw = read_raw_config(path)
    config = validate_without_keys(raw, path)
    return VerifyConfig(path, config, hashlib.sha256(data).hexdigest(), fingerprint(raw))


def check_same_config(given: VerifyConfig, summary: RunSummary | None, zone: str) -> None:
    """Raise :class:`ConfigMismatchError` when the run summary names another config fingerprint."""
    recorded = (summary.config_file_fingerprint or summary.config_fingerprint) if summary else None
    if recorded and recorded != given.fingerprint:
        raise ConfigMismatchError(
            f"the research zone {zone} was written under config fingerprint {recorded[:16]} "
            f"({summary.config if summary else '?'}), but {given.path} has fingerprint {given.fingerprint[:16]}: "
            "verify with the rules file the run used (key values do not count; rules, parameters and key "
            "references do)"
        )
