"""The spec's type mapping: a column's FHIR type (or ``ansi/type`` tag) -> Spark SQL type, and the conversion.

FHIR primitives map as in the specification's "FHIR Type to SQL Type Mapping" table, with two deliberate
choices for analysis: ``decimal`` is a DOUBLE (the suite and analysts expect numbers, not text) and
``instant`` stays the FHIR string (a TIMESTAMP would shift the recorded zone; use the ``ansi/type`` tag
``TIMESTAMP`` to get one). Complex types (and columns without a type) are their JSON text.
"""

from __future__ import annotations

import re

from anonymizer.views.sql_text import quote

_FHIR_TO_SQL = {
    "boolean": "BOOLEAN",
    "integer": "INT",
    "positiveInt": "INT",
    "unsignedInt": "INT",
    "integer64": "BIGINT",
    "decimal": "DOUBLE",
    "base64Binary": "BINARY",
}
_ANSI = re.compile(
    r"^(BOOLEAN|INT|INTEGER|SMALLINT|BIGINT|DOUBLE|DOUBLE PRECISION|REAL|FLOAT|DATE|TIMESTAMP|"
    r"TIMESTAMP WITH TIME ZONE|CHARACTER VARYING|VARCHAR(\(\d+\))?|BINARY|DECIMAL\(\d+(,\s*\d+)?\)|NUMERIC\(\d+(,\s*\d+)?\))$",
    re.I,
)
_ANSI_TO_SPARK = {
    "INTEGER": "INT",
    "DOUBLE PRECISION": "DOUBLE",
    "REAL": "FLOAT",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "CHARACTER VARYING": "STRING",
}


def fhir_type_name(type_uri: str | None) -> str | None:
    """The FHIR type named by a column's ``type`` (relative or ``http://hl7.org/fhir/StructureDefinition/...``)."""
    if not type_uri:
        return None
    return type_uri.rsplit("/", 1)[-1]


def sql_type(type_uri: str | None, ansi_type: str | None = None) -> str:
    """The Spark SQL type of a column."""
    if ansi_type:
        normalized = ansi_type.strip().upper()
        if normalized.startswith("VARCHAR"):
            return "STRING"
        if normalized.startswith("NUMERIC"):
            normalized = "DECIMAL" + normalized[len("NUMERIC") :]
        return _ANSI_TO_SPARK.get(normalized, normalized)
    return _FHIR_TO_SQL.get(fhir_type_name(type_uri) or "", "STRING")


def valid_ansi_type(value: str) -> bool:
    """Whether an ``ansi/type`` tag value is one this runner supports."""
    return bool(_ANSI.match(value.strip()))


def convert(text: str, target: str, fail: str) -> str:
    """SQL converting one element's text to ``target``; ``fail`` is the SQL to evaluate on a mismatch.

    NULLs and ``fail`` are cast to ``target`` explicitly: the result is the same, and the analyzer does not need
    further passes to coerce them.
    """
    if target == "STRING":
        return text
    null, failed = f"CAST(NULL AS {target})", f"CAST({fail} AS {target})"
    if target == "BOOLEAN":
        return f"CASE WHEN {text} IS NULL THEN {null} WHEN {text} = 'true' THEN true WHEN {text} = 'false' THEN false ELSE {failed} END"
    if target == "BINARY":
        converted = f"try_to_binary({text}, 'base64')"
    elif target in ("INT", "BIGINT", "SMALLINT"):
        exact = f"try_cast({text} AS DECIMAL(38, 9))"
        converted = f"IF({exact} = CAST({exact} AS BIGINT), try_cast({exact} AS {target}), {null})"
    else:
        converted = f"try_cast({text} AS {target})"
    return f"IF({text} IS NULL, {null}, coalesce({converted}, {failed}))"


def mismatch_message(view: str, column: str, target: str) -> str:
    """The start of a type mismatch error (the resource id is appended at run time)."""
    return quote(f"[views] view {view!r} column {column!r}: value is not a valid {target} in resource ")
