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
import secrets as _random
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from anonymizer.config.fhirpath_check import FhirPathSyntaxError, check_fhirpath
from anonymizer.config.key_strength import MIN_KEY_BYTES, key_weakness
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
from anonymizer.secrets import Secret, is_reference, resolve_secret

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
KEY_PARAMETERS = ("dateShiftKey", "cryptoHashKey", "encryptKey")
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
    """Load, validate and resolve a configuration file or dict.

    Args:
        source: path of a JSON rules file, or the parsed dict.
        allow_ephemeral_keys: generate random keys for empty/missing ones (Microsoft's default behaviour);
            otherwise a missing key is an error.
        base_dir: folder for ``file:`` key references (default: the config file's folder).
        keys_from: a reference prefix that overrides the config's keys, e.g. ``dbsecret:<scope>`` or
            ``keyvault:https://<vault>.vault.azure.net/secrets``; the keys a rule needs are read as
            ``<prefix>/date-shift-key``, ``<prefix>/crypto-hash-key``, ``<prefix>/encrypt-key``.
        allow_weak_test_keys: accept keys shorter than 32 bytes or obviously repeated
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


def read_raw_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object of a rules file, parsed as :func:`load_config` parses it (nothing validated or resolved)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError:
        raise ConfigError(f"Failed to read configuration file {path}") from None
    return _parse_json(text, str(path))


def keys_needed(methods: set[str], parameters: Mapping[str, Any]) -> dict[str, bool]:
    """Which key parameters the rules' methods need (a fixed date-shift offset needs no date-shift key)."""
    return {
        "dateShiftKey": "dateshift" in methods and parameters.get("dateShiftFixedOffsetInDays") is None,
        "cryptoHashKey": "cryptohash" in methods,
        "encryptKey": "encrypt" in methods,
    }


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
    if not allow_weak_test_keys:
        _refuse_weak_keys(parameters, rules, params_raw)
    description = raw.get("description")
    return AnonymizerConfig(
        fhir_version=version or None,
        processing_errors=processing.lower(),
        rules=rules,
        parameters=parameters,
        fingerprint=fingerprint(raw),
        source_name=source_name,
        description=description if isinstance(description, str) else None,
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
    shown = path or json_path
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
    resolved: dict[str, Secret] = {}
    for name in KEY_PARAMETERS:
        value = raw.get(name)
        if value not in (None, "") and not isinstance(value, str):
            raise ConfigError(f"parameters.{name} must be a string (a key or a reference such as env:NAME)")
        try:
            resolved[name] = resolve_secret(value, base_dir=base_dir) if value else Secret("")
        except ConfigError:
            if not allow_ephemeral_keys:
                raise
            resolved[name] = Secret("")  # explicitly allowed: an unresolvable key becomes an ephemeral one
    shared_random = _random.token_hex(16)  # Microsoft: cryptoHashKey and encryptKey share one random default
    for name in KEY_PARAMETERS:
        if resolved[name]:
            continue
        if name == "dateShiftKey" and raw.get("dateShiftFixedOffsetInDays") is not None:
            continue
        if allow_ephemeral_keys:
            resolved[name] = Secret(_random.token_hex(16) if name == "dateShiftKey" else shared_random)
        elif needs[name]:
            raise ConfigError(
                f"parameters.{name} is empty: the configuration uses a method that needs it. Give a reference "
                f"(env:NAME, file:PATH, dbsecret:scope/key, keyvault:URL) or, for a throw-away demo only, "
                f"allow ephemeral random keys explicitly (--allow-ephemeral-keys)."
            )
    encrypt_key = resolved["encryptKey"].value
    if raw.get("encryptKey") and len(encrypt_key.encode("utf-8")) * 8 not in (128, 192, 256):
        bits = len(encrypt_key.encode("utf-8")) * 8
        raise ConfigError(
            f"Invalid encrypt key size : {bits} bits! Please provide key sizes of 128, 192 or 256 bits."
        )
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
        date_shift_key=resolved["dateShiftKey"],
        date_shift_scope=scope,
        date_shift_fixed_offset=int(fixed) if fixed is not None else None,
        crypto_hash_key=resolved["cryptoHashKey"],
        encrypt_key=resolved["encryptKey"],
        partial_ages=_flag(raw, "enablePartialAgesForRedact"),
        partial_dates=_flag(raw, "enablePartialDatesForRedact"),
        partial_zip=_flag(raw, "enablePartialZipCodesForRedact"),
        restricted_zip_prefixes=tuple(zips),
        custom_settings=_plain_json(custom) if isinstance(custom, dict) else None,
        reference_hashing=hashing,
    )


def _refuse_weak_keys(params: Parameters, rules: tuple[RuleConfig, ...], raw: Mapping[str, Any]) -> None:
    """Stop on a weak key that a rule uses (hashing, encryption, date shift; never quoting the key)."""
    methods = {r.method for r in rules}
    if any(r.method == "scrubtext" and r.extra.get("dates") == "shift" for r in rules):
        methods.add("dateshift")  # scrubText shifts dates in text with the date-shift key
    secrets = {"cryptoHashKey": params.crypto_hash_key, "encryptKey": params.encrypt_key,
               "dateShiftKey": params.date_shift_key}  # fmt: skip
    for name, needed in keys_needed(methods, raw).items():
        weakness = key_weakness(secrets[name].value) if needed else None
        if weakness:
            raise ConfigError(
                f"parameters.{name} is too weak ({weakness}): a short or repeated key is recovered by brute force "
                f"from any kept value that equals a hashed one. Use {MIN_KEY_BYTES} or more random bytes, e.g. "
                f"`python -c 'import secrets; print(secrets.token_hex(32))'`; Microsoft's test fixtures only: "
                f"allow_weak_test_keys=True (--allow-weak-test-keys)."
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
