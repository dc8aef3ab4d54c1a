"""Typed, immutable view of a rules configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from anonymizer.config.keys import KeyReference
from anonymizer.secrets import Secret

METHODS = frozenset(
    {
        "keep",
        "redact",
        "dateshift",
        "cryptohash",
        "encrypt",
        "substitute",
        "perturb",
        "generalize",
        "scrubtext",
    }
)
DATE_SHIFT_SCOPES = ("resource", "file", "folder", "patient")
REFERENCE_HASHING = ("microsoft", "joinable")
#: ``hashFormat`` of a cryptoHash rule (our extension): lowercase hex (Microsoft's), or a DICOM UID.
HASH_FORMATS = ("hex", "dicomUid")


@dataclass(frozen=True)
class RuleConfig:
    """One entry of ``fhirPathRules`` after validation.

    Attributes:
        index: 0-based position in ``fhirPathRules`` (configuration order is rule priority).
        path: the FHIRPath ``path`` (``None`` when the rule uses ``jsonPath``).
        json_path: our extension: a JSONPath instead of ``path``.
        method: lower-case method name (``dateshift``, ``cryptohash``, ...).
    """

    index: int
    path: str | None
    json_path: str | None
    method: str
    replace_with: object = None
    span: Decimal | None = None
    range_type: str = "fixed"
    round_to: int = 2
    cases: dict[str, str] | None = None
    other_values: str = "redact"
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How messages name this rule: ``rule #3 (Patient.address)``; 1-based like a person counts."""
        return f"rule #{self.index + 1} ({self.path or self.json_path})"


@dataclass(frozen=True)
class Parameters:
    """The ``parameters`` block; keys as references, resolved by :func:`anonymizer.config.resolve.resolve_keys`."""

    date_shift_key: KeyReference
    date_shift_scope: str = "resource"
    date_shift_fixed_offset: int | None = None
    crypto_hash_key: KeyReference = field(default_factory=lambda: KeyReference("cryptoHashKey", Secret("")))
    encrypt_key: KeyReference = field(default_factory=lambda: KeyReference("encryptKey", Secret("")))
    partial_ages: bool = False
    partial_dates: bool = False
    partial_zip: bool = False
    restricted_zip_prefixes: tuple[str, ...] = ()
    custom_settings: Mapping[str, object] | None = None
    reference_hashing: str = "microsoft"


@dataclass(frozen=True)
class AnonymizerConfig:
    """A loaded, validated configuration."""

    fhir_version: str | None
    processing_errors: str
    rules: tuple[RuleConfig, ...]
    parameters: Parameters
    fingerprint: str
    source_name: str | None = None
    description: str | None = None
    #: loaded for Microsoft's test fixtures: weak keys are accepted when resolved
    weak_test_keys_allowed: bool = False
