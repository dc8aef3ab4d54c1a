"""Load and validate a rules file in Microsoft's format (plus our documented extensions).

Validation follows Microsoft's ``AnonymizerConfigurationValidator`` and processor settings (same messages),
and is stricter in one way on purpose: unknown keys are errors, because a misspelt key (Microsoft's own
documentation writes ``processingError``) silently loses a setting otherwise.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from anonymizer.config.fhirpath_check import FhirPathSyntaxError, check_fhirpath
from anonymizer.config.json_text import read_raw_config
from anonymizer.config.keys import KEY_PARAMETERS, check_encrypt_key_size, key_reference
from anonymizer.config.keys import keys_needed as needed
from anonymizer.config.model import (
    DATE_SHIFT_SCOPES,
    HASH_FORMATS,
    METHODS,
    REFERENCE_HASHING,
    AnonymizerConfig,
    Parameters,
    RuleConfig,
)
from anonymizer.errors import ConfigError
from anonymizer.secrets import is_reference

TOP_LEVEL_KEYS = frozenset(
    {"fhirVersion", "processingErrors", "fhirPathRules", "parameters", "description", "_comment"}
)
RULE_KEYS = frozenset(
    {
        "path",
        "jsonPath",
        "method",
        "replaceWith",
        "span",
        "rangeType",
        "roundTo",
        "cases",
        "otherValues",
        "description",
        "_comment",
    }
)
#: Options of our ``scrubText`` method (see docs/text-scrubbing.md).
SCRUB_TEXT_KEYS = frozenset({"dates", "placeholders", "patterns", "contextual"})
#: Option of cryptoHash (our extension): ``hashFormat`` ``hex`` (default, Microsoft's) or ``dicomUid``.
CRYPTO_HASH_KEYS = frozenset({"hashFormat"})
PARAMETER_KEYS = frozenset(
    {
        "dateShiftKey",
        "dateShiftScope",
        "dateShiftFixedOffsetInDays",
        "cryptoHashKey",
        "encryptKey",
        "enablePartialAgesForRedact",
        "enablePartialDatesForRedact",
        "enablePartialZipCodesForRedact",
        "restrictedZipCodeTabulationAreas",
        "customSettings",
        "referenceHashing",
    }
)
#: Secret names used with ``keys_from`` (``--keys-from dbsecret:<scope>`` -> ``dbsecret:<scope>/crypto-hash-key``).
KEY_SECRET_NAMES = {
    "dateShiftKey": "date-shift-key",
    "cryptoHashKey": "crypto-hash-key",
    "encryptKey": "encrypt-key",
}
SUPPORTED_VERSION = "R4"


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    allow_ephemeral_keys: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
    keys_from: str | None = None,
    allow_weak_test_keys: bool = False,
) -> AnonymizerConfig:
    """Load and validate a configuration file or dict; keys stay references (see :mod:`anonymizer.config.keys`).

    Args:
        source: path of a JSON rules file, or the parsed dict.
        allow_ephemeral_keys: random keys for empty/missing/unresolvable ones when the engine is built
            (Microsoft's default behaviour); otherwise a missing key is an error.
        base_dir: folder for ``file:`` key references (default: the config file's folder).
        keys_from: a reference prefix that overrides the config's keys, e.g. ``dbsecret:<scope>`` or
            ``keyvault:https://<vault>.vault.azure.net/secrets``; the keys a rule needs are read as
            ``<prefix>/date-shift-key``, ``<prefix>/crypto-hash-key``, ``<prefix>/encrypt-key``.
        allow_weak_test_keys: accept keys shorter than 32 bytes or obviously repeated when they are resolved
            (:mod:`anonymizer.config.key_strength`); only for Microsoft's test fixtures, never for real data.
    """
    source_name: str | None = None
    if isinstance(source, Mapping):
        raw = dict(source)
    else:
        path = Path(source)
        source_name = path.name
        base_dir = base_dir if base_dir is not None else path.parent
        raw = read_raw_config(path)
    if keys_from:
        raw = dict(raw)
        raw["parameters"] = dict(raw.get("parameters") or {})
        methods = {
            str(r.get("method", "")).lower() for r in raw.get("fhirPathRules") or [] if isinstance(r, dict)
        }
        needed = {"dateShiftKey": "dateshift" in methods or "scrubtext" in methods, "cryptoHashKey": "cryptohash" in methods,
                  "encryptKey": "encrypt" in methods}  # fmt: skip
        for name, secret_name in KEY_SECRET_NAMES.items():
            if needed[name]:
                raw["parameters"][name] = f"{keys_from.rstrip('/')}/{secret_name}"
    return _build(
        raw,
        allow_ephemeral_keys=allow_ephemeral_keys,
        base_dir=base_dir,
        source_name=source_name,
        allow_weak_test_keys=allow_weak_test_keys,
    )


def keys_needed(methods: set[str], parameters: Mapping[str, Any]) -> dict[str, bool]:
    """Which key parameters the rules' methods need (a fixed date-shift offset needs no date-shift key)."""
    return needed(methods, parameters.get("dateShiftFixedOffsetInDays"))


def _unknown_keys(found: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in found:
        if key not in allowed:
            hint = difflib.get_close_matches(key, sorted(allowed), n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(
                f"unknown key {key!r} in {where}{suggestion} (allowed: {', '.join(sorted(allowed))})"
            )


def _build(
    raw: dict[str, Any],
    *,
    allow_ephemeral_keys: bool,
    base_dir: str | os.PathLike[str] | None,
    source_name: str | None,
    allow_weak_test_keys: bool = False,
) -> AnonymizerConfig:
    _unknown_keys(raw, TOP_LEVEL_KEYS, "the configuration")
    version = raw.get("fhirVersion")
    if version not in (None, "") and str(version).upper() != SUPPORTED_VERSION:
        raise ConfigError(
            f"Configuration of fhirVersion {version} is not supported. Expected fhirVersion: {SUPPORTED_VERSION}"
        )
    processing = raw.get("processingErrors", "raise")
    if not isinstance(processing, str) or processing.lower() not in ("raise", "skip"):
        raise ConfigError(
            f"Failed to parse configuration file: processingErrors must be 'raise' or 'skip', got {processing!r}"
        )
    rules_raw = raw.get("fhirPathRules")
    if not rules_raw:
        raise ConfigError("The configuration is invalid, please specify any fhirPathRules")
    if not isinstance(rules_raw, list):
        raise ConfigError("Failed to parse configuration file: fhirPathRules must be a list")
    params_raw = raw.get("parameters") or {}
    if not isinstance(params_raw, dict):
        raise ConfigError("Failed to parse configuration file: parameters must be an object")
    _unknown_keys(params_raw, PARAMETER_KEYS, "parameters")
    rules = tuple(_rule(i, r) for i, r in enumerate(rules_raw))
    parameters = _parameters(
        params_raw, allow_ephemeral_keys=allow_ephemeral_keys, base_dir=base_dir, rules=rules
    )
    description = raw.get("description")
    return AnonymizerConfig(
        fhir_version=version or None,
        processing_errors=processing.lower(),
        rules=rules,
        parameters=parameters,
        fingerprint=fingerprint(raw),
        source_name=source_name,
        description=description if isinstance(description, str) else None,
        weak_test_keys_allowed=allow_weak_test_keys,
    )


def _rule(index: int, raw: Any) -> RuleConfig:
    where = f"rule #{index + 1}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a rule must be a JSON object")
    path, json_path, method = raw.get("path"), raw.get("jsonPath"), raw.get("method")
    if (not path and not json_path) or not method:
        raise ConfigError(f"{where}: Missing path or method in Fhir path rule config.")
    if path and json_path:
        raise ConfigError(f"{where}: give either path or jsonPath, not both")
    shown = str(path or json_path)
    where = f"rule #{index + 1} ({shown})"
    method_l = str(method).lower()
    allowed = RULE_KEYS | {"scrubtext": SCRUB_TEXT_KEYS, "cryptohash": CRYPTO_HASH_KEYS}.get(
        method_l, frozenset()
    )
    _unknown_keys(raw, allowed, where)
    if method_l not in METHODS:
        raise ConfigError(f"{where}: Anonymization method {str(method).upper()} not supported.")
    if path:
        try:
            check_fhirpath(str(path))
        except FhirPathSyntaxError as exc:
            raise ConfigError(f"{where}: Invalid FHIR path {path} ({exc})") from None
    else:
        _check_json_path(str(json_path), where)
    settings: dict[str, Any] = {}
    if method_l == "substitute":
        if "replaceWith" not in raw:
            raise ConfigError(f"{where}: Missing replaceWith value in substitution rule at {shown}.")
        settings["replace_with"] = _plain_json(raw["replaceWith"])
    elif method_l == "perturb":
        settings.update(_perturb_settings(raw, shown, where))
    elif method_l == "generalize":
        settings.update(_generalize_settings(raw, where))
    if method_l == "cryptohash" and raw.get("hashFormat", "hex") not in HASH_FORMATS:
        raise ConfigError(f"{where}: hashFormat must be one of {', '.join(HASH_FORMATS)}")
    extra = {k: _plain_json(v) for k, v in raw.items() if k in SCRUB_TEXT_KEYS | CRYPTO_HASH_KEYS}
    return RuleConfig(
        index=index, path=path or None, json_path=json_path or None, method=method_l, extra=extra, **settings
    )


def _check_json_path(expression: str, where: str) -> None:
    from jsonpath_ng.ext import parse as jsonpath_parse

    try:
        jsonpath_parse(expression)
    except Exception as exc:
        raise ConfigError(f"{where}: Invalid JSONPath {expression} ({type(exc).__name__})") from None


def _perturb_settings(raw: Mapping[str, Any], shown: str, where: str) -> dict[str, Any]:
    if "span" not in raw or raw["span"] is None:
        raise ConfigError(f"{where}: Span value is required in perturb rule at {shown}.")
    try:
        span = Decimal(str(raw["span"]))
    except (InvalidOperation, ValueError):
        raise ConfigError(f"{where}: Span value is invalid at {shown}.") from None
    if span < 0 or isinstance(raw["span"], bool):
        raise ConfigError(f"{where}: Span value is invalid at {shown}.")
    round_to = raw.get("roundTo", 2)
    try:
        round_int = int(str(round_to))
    except ValueError:
        raise ConfigError(f"{where}: RoundTo value is invalid at {shown}.") from None
    if isinstance(round_to, bool) or not 0 <= round_int <= 28:
        raise ConfigError(f"{where}: RoundTo value is invalid at {shown}.")
    range_type = str(raw.get("rangeType", "fixed")).lower()
    if range_type not in ("fixed", "proportional"):
        raise ConfigError(f"{where}: RangeType value is invalid at {shown}.")
    return {"span": span, "round_to": round_int, "range_type": range_type}


def _generalize_settings(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    cases = raw.get("cases")
    if cases is None:
        raise ConfigError(f"{where}: Missing cases in FHIR path rule config.")
    if not isinstance(cases, dict):
        raise ConfigError(f"{where}: Invalid Json format {json.dumps(_plain_json(cases))}")
    for key, value in cases.items():
        for expression in (key, value):
            try:
                check_fhirpath(str(expression))
            except FhirPathSyntaxError:
                raise ConfigError(f"{where}: Invalid cases expression {expression}") from None
    other = str(raw.get("otherValues", "redact")).lower()
    if other not in ("redact", "keep"):
        raise ConfigError(f"{where}: OtherValues setting is invalid at {raw.get('otherValues')}.")
    return {"cases": {str(k): str(v) for k, v in cases.items()}, "other_values": other}


def _parameters(
    raw: Mapping[str, Any],
    *,
    allow_ephemeral_keys: bool,
    base_dir: str | os.PathLike[str] | None,
    rules: tuple[RuleConfig, ...],
) -> Parameters:
    needs = keys_needed({r.method for r in rules}, raw)
    refs = {
        name: key_reference(name, raw.get(name), base_dir=base_dir, ephemeral=allow_ephemeral_keys)
        for name in KEY_PARAMETERS
    }
    for name, ref in refs.items():
        if needs[name] and not ref:
            raise ConfigError(
                f"parameters.{name} is empty: the configuration uses a method that needs it. Give a reference "
                f"(env:NAME, file:PATH, dbsecret:scope/key, keyvault:URL) or, for a throw-away demo only, "
                f"allow ephemeral random keys explicitly (--allow-ephemeral-keys)."
            )
    encrypt_written = refs["encryptKey"].written.value
    if encrypt_written and not is_reference(encrypt_written):
        check_encrypt_key_size(encrypt_written)  # a literal key now; a reference when it is resolved
    scope = str(raw.get("dateShiftScope") or "resource").lower()
    if scope not in DATE_SHIFT_SCOPES:
        raise ConfigError(
            f"parameters.dateShiftScope must be one of {', '.join(DATE_SHIFT_SCOPES)}, got {scope!r}"
        )
    fixed = raw.get("dateShiftFixedOffsetInDays")
    if fixed is not None and (
        isinstance(fixed, bool) or not isinstance(fixed, int | Decimal) or int(fixed) != fixed
    ):
        raise ConfigError("parameters.dateShiftFixedOffsetInDays must be an integer number of days")
    hashing = str(raw.get("referenceHashing") or "microsoft").lower()
    if hashing not in REFERENCE_HASHING:
        raise ConfigError(
            f"parameters.referenceHashing must be one of {', '.join(REFERENCE_HASHING)}, got {hashing!r}"
        )
    zips = raw.get("restrictedZipCodeTabulationAreas") or []
    if not isinstance(zips, list) or not all(isinstance(z, str) for z in zips):
        raise ConfigError("parameters.restrictedZipCodeTabulationAreas must be a list of strings")
    custom = raw.get("customSettings")
    return Parameters(
        date_shift_key=refs["dateShiftKey"],
        date_shift_scope=scope,
        date_shift_fixed_offset=int(fixed) if fixed is not None else None,
        crypto_hash_key=refs["cryptoHashKey"],
        encrypt_key=refs["encryptKey"],
        partial_ages=_flag(raw, "enablePartialAgesForRedact"),
        partial_dates=_flag(raw, "enablePartialDatesForRedact"),
        partial_zip=_flag(raw, "enablePartialZipCodesForRedact"),
        restricted_zip_prefixes=tuple(zips),
        custom_settings=_plain_json(custom) if isinstance(custom, dict) else None,
        reference_hashing=hashing,
    )


def _flag(raw: Mapping[str, Any], name: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise ConfigError(f"parameters.{name} must be true or false")
    return value


def _plain_json(value: Any) -> Any:
    """Decimals from the parser back to int/float so values serialise like the input."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    return value


def fingerprint(raw: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical config with literal key values masked (references are kept: they are names)."""
    canonical = json.loads(json.dumps(raw, default=str))
    params = canonical.get("parameters") or {}
    for name in KEY_PARAMETERS:
        value = params.get(name)
        if value and not (isinstance(value, str) and is_reference(value)):
            params[name] = "<literal key>"
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
