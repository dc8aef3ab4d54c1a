"""FHIRPath ``lowBoundary()`` / ``highBoundary()`` on decimal, date, dateTime and time text, in Spark SQL."""

from __future__ import annotations

from anonymizer.views.sql_text import let

_DATE = r"'^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$'"
_NUMBER = r"'^[+-]?[0-9]+(\\.[0-9]+)?$'"
_TIME = r"'^[0-9]{2}(:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?)?$'"
_DATETIME = r"'^[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2}(:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?$'"


def _date_part(d: str, high: bool) -> str:
    if not high:
        return (
            f"CASE length({d}) WHEN 4 THEN concat({d}, '-01-01') WHEN 7 THEN concat({d}, '-01') ELSE {d} END"
        )
    last_day = f"date_format(last_day(to_date(concat({d}, '-01'), 'yyyy-MM-dd')), 'yyyy-MM-dd')"
    return f"CASE length({d}) WHEN 4 THEN concat({d}, '-12-31') WHEN 7 THEN {last_day} ELSE {d} END"


def _time_part(t: str, high: bool) -> str:
    fill, pad = ("59", "9") if high else ("00", "0")
    return (
        f"CASE length({t}) WHEN 0 THEN '{'23' if high else '00'}:{fill}:{fill}.{pad * 3}' "
        f"WHEN 2 THEN concat({t}, ':{fill}:{fill}.{pad * 3}') WHEN 5 THEN concat({t}, ':{fill}.{pad * 3}') "
        f"WHEN 8 THEN concat({t}, '.{pad * 3}') ELSE rpad({t}, 12, '{pad}') END"
    )


def _decimal(v: str, high: bool) -> str:
    digits = f"length(regexp_extract({v}, '\\\\.([0-9]+)$', 1))"
    sign = "+" if high else "-"
    return f"CAST(try_cast({v} AS DOUBLE) {sign} 5 * power(10, -({digits} + 1)) AS STRING)"


def _datetime(v: str, high: bool) -> str:
    zone_default = "'-12:00'" if high else "'+14:00'"
    d = f"regexp_extract({v}, '^([0-9-]+)', 1)"
    t = f"regexp_extract({v}, 'T([0-9:.]+)', 1)"
    z = f"regexp_extract({v}, '(Z|[+-][0-9]{{2}}:[0-9]{{2}})$', 1)"
    zone = let(z, lambda zz: f"IF({zz} = '', {zone_default}, {zz})", prefix="z")
    return f"concat({_date_part(d, high)}, 'T', {_time_part(t, high)}, {zone})"


def boundary(element: str, fhir_type: str | None, high: bool) -> str:
    """SQL giving the boundary of one element's text, NULL when it is not of a type with boundaries."""
    if fhir_type in ("decimal", "integer", "positiveInt", "unsignedInt", "integer64"):
        return f"CASE WHEN {element} RLIKE {_NUMBER} THEN {_decimal(element, high)} END"
    if fhir_type == "date":
        return f"CASE WHEN {element} RLIKE {_DATE} THEN {_date_part(element, high)} END"
    if fhir_type in ("dateTime", "instant"):
        return f"CASE WHEN {element} RLIKE {_DATETIME} THEN {_datetime(element, high)} END"
    if fhir_type == "time":
        return f"CASE WHEN {element} RLIKE {_TIME} THEN {_time_part(element, high)} END"
    # Unknown static type: decide by the text's shape (a date-only text is taken as a date).
    return (
        f"CASE WHEN {element} RLIKE {_NUMBER} THEN {_decimal(element, high)} "
        f"WHEN {element} RLIKE {_DATE} THEN {_date_part(element, high)} "
        f"WHEN {element} RLIKE {_DATETIME} THEN {_datetime(element, high)} "
        f"WHEN {element} RLIKE {_TIME} THEN {_time_part(element, high)} END"
    )
