"""The identifying values of one patient, collected from its Patient and RelatedPerson resources.

`PatientIdentifiers` is what contextual scrubbing searches for in that patient's free text. It is small,
frozen, hashable (the scrubber caches one compiled matcher per value), picklable and JSON-serialisable, so
the Spark layer can build it per patient key with a groupBy on the raw resources and join it to the
resources of that patient, without ever collecting patients on the driver:

    ids_json = collect_identifiers_json(raw_lines_of_one_patient)   # inside a grouped UDF
    ids = PatientIdentifiers.from_json(ids_json)                    # next to the resource being scrubbed

Values are collected from the raw (pre-anonymization) resources; `repr` shows counts only, never values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

import orjson

_MOTHERS_MAIDEN_NAME = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"
_BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
_SOURCE_TYPES = frozenset({"Patient", "RelatedPerson"})
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class PatientIdentifiers:
    """Identifying values of one patient (and of its relatives/contacts), each field a sorted tuple.

    - ``names``: multi-word names as written in the record ("Sumiko254 Larue605 Medhurst46", "Mrs. ...").
    - ``name_tokens``: single name parts (given, family, hyphenated parts) of the patient and relatives.
    - ``related_names``: full names of related persons, contacts and the mother's maiden name.
    - ``telecom``: phone, fax, e-mail, URL values.
    - ``address_lines``: street lines; ``cities``: city and district names; ``postal_codes``: ZIP values.
    - ``identifiers``: ``Identifier.value`` strings (MRN, SSN, licence, passport, resource ids).
    - ``birth_dates``: ISO ``YYYY-MM-DD`` (or partial ``YYYY-MM``) birth dates.
    """

    names: tuple[str, ...] = ()
    name_tokens: tuple[str, ...] = ()
    related_names: tuple[str, ...] = ()
    telecom: tuple[str, ...] = ()
    address_lines: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    postal_codes: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    birth_dates: tuple[str, ...] = ()

    def __repr__(self) -> str:
        counts = ", ".join(f"{f.name}={len(getattr(self, f.name))}" for f in fields(self))
        return f"PatientIdentifiers({counts})"

    def is_empty(self) -> bool:
        """True when no identifying value was collected."""
        return not any(getattr(self, f.name) for f in fields(self))

    def values(self) -> Iterator[tuple[str, str]]:
        """Every ``(field name, value)`` pair, for audits such as "does any value survive in the text"."""
        for f in fields(self):
            for value in getattr(self, f.name):
                yield f.name, value

    def merge(self, other: PatientIdentifiers | None) -> PatientIdentifiers:
        """Union of two collections (e.g. partial results of a Spark aggregation)."""
        if other is None:
            return self
        return PatientIdentifiers(
            **{f.name: _norm(getattr(self, f.name) + getattr(other, f.name)) for f in fields(self)}
        )

    def to_json(self) -> str:
        """Compact JSON object with one list per non-empty field (stable key and value order)."""
        data = {f.name: list(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name)}
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()

    @classmethod
    def from_json(cls, text: str | bytes | None) -> PatientIdentifiers:
        """Inverse of `to_json`; ``None``/empty gives an empty collection. Unknown keys are ignored."""
        if not text:
            return cls()
        data = orjson.loads(text)
        if not isinstance(data, dict):
            raise ValueError("PatientIdentifiers JSON must be an object")
        known = {f.name for f in fields(cls)}
        kwargs = {
            k: _norm(str(v) for v in vals)
            for k, vals in data.items()
            if k in known and isinstance(vals, list)
        }
        return cls(**kwargs)


def merge(*collections: PatientIdentifiers | None) -> PatientIdentifiers:
    """Union of any number of collections; ``None`` entries are skipped."""
    result = PatientIdentifiers()
    for item in collections:
        result = result.merge(item)
    return result


def collect_identifiers(resources: Iterable[dict[str, Any]]) -> PatientIdentifiers:
    """Collect identifying values from the Patient and RelatedPerson resources among ``resources``.

    Other resource types are ignored, so a caller may pass every resource of a patient.
    """
    acc: dict[str, list[str]] = {f.name: [] for f in fields(PatientIdentifiers)}
    for resource in resources:
        if not isinstance(resource, dict) or resource.get("resourceType") not in _SOURCE_TYPES:
            continue
        is_patient = resource["resourceType"] == "Patient"
        _collect_person(resource, acc, related=not is_patient)
        if is_patient:
            for contact in _list(resource.get("contact")):
                _collect_person(contact, acc, related=True)
            _collect_extensions(resource, acc)
            rid = resource.get("id")
            if isinstance(rid, str) and rid:
                acc["identifiers"].append(rid)
    return PatientIdentifiers(**{k: _norm(v) for k, v in acc.items()})


def collect_identifiers_json(lines: Iterable[str | bytes | dict[str, Any]]) -> str:
    """`collect_identifiers` over raw NDJSON lines (or parsed dicts), returned as `to_json` text.

    Lines that are not valid JSON objects are skipped: quarantine is the Spark layer's concern.
    """

    def parsed() -> Iterator[dict[str, Any]]:
        for line in lines:
            if isinstance(line, dict):
                yield line
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict):
                yield value

    return collect_identifiers(parsed()).to_json()


def _collect_person(person: dict[str, Any], acc: dict[str, list[str]], *, related: bool) -> None:
    names = person.get("name")
    for name in _list(names) if isinstance(names, list) else _list([names]):
        _collect_human_name(name, acc, related=related)
    for cp in _list(person.get("telecom")):
        if isinstance(cp, dict) and isinstance(cp.get("value"), str):
            acc["telecom"].append(cp["value"])
    addresses = person.get("address")
    for address in _list(addresses) if isinstance(addresses, list) else _list([addresses]):
        _collect_address(address, acc)
    for ident in _list(person.get("identifier")):
        if isinstance(ident, dict) and isinstance(ident.get("value"), str):
            acc["identifiers"].append(ident["value"])
    birth = person.get("birthDate")
    if isinstance(birth, str) and birth:
        acc["birth_dates"].append(birth[:10])


def _collect_human_name(name: Any, acc: dict[str, list[str]], *, related: bool) -> None:
    if not isinstance(name, dict):
        return
    given = [g for g in _list(name.get("given")) if isinstance(g, str)]
    family = name.get("family") if isinstance(name.get("family"), str) else None
    prefix = [p for p in _list(name.get("prefix")) if isinstance(p, str)]
    suffix = [s for s in _list(name.get("suffix")) if isinstance(s, str)]
    text = name.get("text") if isinstance(name.get("text"), str) else None
    parts = [*given, *([family] if family else [])]
    for part in parts:
        acc["name_tokens"].extend(_name_tokens(part))
    if text:
        acc["name_tokens"].extend(_name_tokens(text))
    full: list[str] = []
    if parts:
        full.append(" ".join(parts))
        full.append(" ".join([*prefix, *parts, *suffix]))
        if len(given) > 1:
            full.append(" ".join(given))
        if family:
            full.extend(f"{g} {family}" for g in given)
            full.append(f"{family}, {' '.join(given)}")
        if family and prefix:
            full.append(f"{prefix[0]} {family}")
    if text:
        full.append(text)
    multi = [f for f in full if len(f.split()) > 1]
    acc["related_names" if related else "names"].extend(multi)


def _collect_address(address: Any, acc: dict[str, list[str]]) -> None:
    if not isinstance(address, dict):
        return
    for line in _list(address.get("line")):
        if isinstance(line, str):
            acc["address_lines"].append(line)
    for key in ("city", "district"):
        if isinstance(address.get(key), str):
            acc["cities"].append(address[key])
    if isinstance(address.get("postalCode"), str):
        acc["postal_codes"].append(address["postalCode"])
    if isinstance(address.get("text"), str):
        acc["address_lines"].append(address["text"])


def _collect_extensions(patient: dict[str, Any], acc: dict[str, list[str]]) -> None:
    for ext in _list(patient.get("extension")):
        if not isinstance(ext, dict):
            continue
        if ext.get("url") == _MOTHERS_MAIDEN_NAME and isinstance(ext.get("valueString"), str):
            value = ext["valueString"]
            acc["name_tokens"].extend(_name_tokens(value))
            if len(value.split()) > 1:
                acc["related_names"].append(value)
        elif ext.get("url") == _BIRTH_PLACE:
            _collect_address(ext.get("valueAddress"), acc)


def _name_tokens(value: str) -> list[str]:
    """Single words of a name part; hyphenated names also give their parts ("Smith-Jones" -> 3 tokens)."""
    tokens: list[str] = []
    for word in value.split():
        word = word.strip('.,;:()"')
        if not word:
            continue
        tokens.append(word)
        if "-" in word:
            tokens.extend(p for p in word.split("-") if p)
    return tokens


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _norm(values: Iterable[str]) -> tuple[str, ...]:
    """Trim, collapse whitespace, drop empties and duplicates, sort: equal content gives equal objects."""
    out = {_SPACE.sub(" ", v).strip() for v in values if isinstance(v, str)}
    out.discard("")
    return tuple(sorted(out))
