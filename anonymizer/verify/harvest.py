"""Harvest identifying values, by Safe Harbor category, from one source resource (pure Python).

Only resources about an individual are harvested: Patient, RelatedPerson, Person and every resource that
references a Patient (``subject``, ``patient``, ``beneficiary`` ...). Clinician and facility data
(Practitioner, Organization, Location) are not Safe Harbor identifiers of the individual
(docs/bulk-export-and-safe-harbor.md §5.6) and are not harvested.

Each harvested value becomes one or more :class:`Harvested` match keys (see :mod:`normalize`). Values
that are too short or too common to prove anything are dropped by :func:`is_ignored` so that a correct
run raises no false alarm; the rule is documented in docs/verify.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from anonymizer.verify import normalize as nz

#: Resource types that *are* an individual (or a relative / household member).
PERSON_TYPES = frozenset({"Patient", "RelatedPerson", "Person", "FamilyMemberHistory"})
#: Keys whose Reference points at the individual a resource is about.
PATIENT_REFERENCE_KEYS = frozenset(
    {"subject", "patient", "beneficiary", "individual", "policyHolder", "subscriber"}
)
_PATIENT_REF_RE = re.compile(r"(^|/)(Patient|RelatedPerson|Person)/|^urn:uuid:")

# Identifier type codes (HL7 v2-0203) -> Safe Harbor category and label.
_IDENTIFIER_TYPES: dict[str, tuple[str, str]] = {
    "SS": ("G", "social security number"),
    "SB": ("G", "social security number"),
    "MR": ("H", "medical record number"),
    "MRT": ("H", "medical record number"),
    "MB": ("I", "health plan beneficiary number"),
    "MA": ("I", "health plan beneficiary number"),
    "MC": ("I", "health plan beneficiary number"),
    "SN": ("I", "health plan beneficiary number"),
    "AN": ("J", "account number"),
    "DL": ("K", "driver's licence number"),
    "PPN": ("K", "passport number"),
    "LN": ("K", "licence number"),
    "CZ": ("K", "certificate number"),
}
_DEVICE_ID_KEYS = frozenset(
    {"deviceIdentifier", "carrierHRF", "carrierAIDC", "serialNumber", "lotNumber", "distinctIdentifier"}
)
_CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
_NAME_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sr", "jr", "md", "phd", "rev"})

#: Words that say nothing about an individual: titles, US states, countries, placeholders.
STOPWORDS = frozenset(
    _NAME_TITLES
    | {"us", "usa", "united states", "unknown", "null", "none", "other", "home", "work", "mobile"}
    | {
        "alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut", "delaware",
        "florida", "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa", "kansas", "kentucky",
        "louisiana", "maine", "maryland", "massachusetts", "michigan", "minnesota", "mississippi",
        "missouri", "montana", "nebraska", "nevada", "new hampshire", "new jersey", "new mexico",
        "new york", "north carolina", "north dakota", "ohio", "oklahoma", "oregon", "pennsylvania",
        "rhode island", "south carolina", "south dakota", "tennessee", "texas", "utah", "vermont",
        "virginia", "washington", "west virginia", "wisconsin", "wyoming",
    }
)  # fmt: skip
#: Minimum length of a match key per kind; shorter keys are ignored (too likely by chance).
MIN_LENGTH = {
    "words": 3,
    "digits": 7,
    "compact": 6,
    "zip": 5,
    "date": 10,
    "decimal": 6,
    "whole": 12,
    "blob": 64,
}
_MEDIA_TYPES = ("image/", "video/", "audio/")
_NUMBER_RE = re.compile(r"[\d\s\-./()+]+")


class Harvested(NamedTuple):
    """One identifying value of the source, reduced to its match key. ``norm`` is PHI: never log it."""

    kind: str
    norm: str
    category: str
    label: str
    src_type: str
    src_path: str


def is_ignored(kind: str, norm: str) -> bool:
    """True for keys too short or too common to prove a leak (documented in docs/verify.md)."""
    if len(norm) < MIN_LENGTH.get(kind, 1):
        return True
    if kind == "words":
        return norm in STOPWORDS or norm.replace(" ", "").isdigit()
    if kind == "zip":
        # 00000 is Synthea's "unknown"; a ZIP ending in 00 looks exactly like its correct 3-digit form.
        return norm.endswith("00")
    return False


def is_person_linked(resource: dict[str, Any]) -> bool:
    """True when the resource is about an individual (a person type or one that references a Patient)."""
    if resource.get("resourceType") in PERSON_TYPES:
        return True
    for key in PATIENT_REFERENCE_KEYS:
        value = resource.get(key)
        refs = value if isinstance(value, list) else [value]
        for ref in refs:
            target = ref.get("reference") if isinstance(ref, dict) else None
            if isinstance(target, str) and _PATIENT_REF_RE.search(target):
                return True
    return False


def harvest_resource(resource: dict[str, Any]) -> Iterator[Harvested]:
    """Every identifying value of one source resource as match keys (nothing for non-person data)."""
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not is_person_linked(resource):
        return
    seen: set[tuple[str, str, str, str]] = set()
    for item in _walk_object(resource, rtype, rtype):
        kind, norm, category, label, path = item
        if is_ignored(kind, norm) or (kind, norm, category, path) in seen:
            continue
        seen.add((kind, norm, category, path))
        yield Harvested(kind, norm, category, label, rtype, path)


_Item = tuple[str, str, str, str, str]


def _walk_object(obj: dict[str, Any], rtype: str, path: str) -> Iterator[_Item]:
    yield from _classify(obj, rtype, path)
    for key, value in obj.items():
        if key == "resourceType":
            continue
        child = f"{path}.{key}"
        if key == "id" and path == rtype and isinstance(value, str):
            yield ("compact", nz.compact_key(value), "R", "resource id", child)
            continue
        if isinstance(value, str):
            if len(value) >= 10 and value[:4].isdigit():
                yield from _dates(key, value, child)
        elif isinstance(value, dict):
            if key != "contained" and key != "resource":
                yield from _walk_object(value, rtype, child)
        elif isinstance(value, list):
            for element in value:
                if isinstance(element, dict):
                    if key == "contained" or key == "resource":
                        continue  # contained resources are harvested by their own type when linked
                    yield from _walk_object(element, rtype, child)
                elif isinstance(element, str) and len(element) >= 10 and element[:4].isdigit():
                    yield from _dates(key, element, child)


def _dates(key: str, value: str, path: str) -> Iterator[_Item]:
    date = nz.date_key(value)
    if date:
        label = "birth or death date" if key in ("birthDate", "deceasedDateTime") else "other full date"
        yield ("date", date, "C", label, path)


#: Every key whose presence :func:`_classify` needs to find anything: a dict with none of them gives no key (most
#: codings, references, periods and quantities), so a caller may skip it.
CLASSIFIED_KEYS = frozenset(
    {"family", "given", "line", "city", "postalCode", "district", "value", "display", "url", "data",
     "subscriberId", "name"} | _DEVICE_ID_KEYS
)  # fmt: skip


def _classify(obj: dict[str, Any], rtype: str, path: str) -> Iterator[_Item]:
    """Match keys of one complex element, recognised by its shape (HumanName, Address, ...)."""
    if "family" in obj or "given" in obj:
        yield from _human_name(obj, path)
    elif _is_address(obj):
        yield from _address(obj, path)
    else:
        value = obj.get("value")
        if isinstance(value, str):
            if obj.get("system") in _CONTACT_SYSTEMS:
                yield from _contact_point(obj["system"], value, path)
            elif "system" in obj or "type" in obj or "assigner" in obj:
                yield from _identifier(obj, path)
    if "display" in obj and isinstance(obj["display"], str) and _is_person_reference(obj, path):
        yield ("words", _name_key(obj["display"]), "A", "name in reference display", path + ".display")
    url = obj.get("url")
    if isinstance(url, str):
        if url.endswith("patient-mothersMaidenName") and isinstance(obj.get("valueString"), str):
            yield ("words", _name_key(obj["valueString"]), "A", "relative's name", path + ".valueString")
        elif url in ("latitude", "longitude") and isinstance(obj.get("valueDecimal"), (int, float)):
            yield (
                "decimal",
                nz.decimal_key(float(obj["valueDecimal"])),
                "B",
                "geolocation",
                path + ".valueDecimal",
            )
        elif "contentType" in obj or "data" in obj or "size" in obj:  # Attachment.url
            yield ("whole", nz.whole_key(url), "N", "attachment URL", path + ".url")
    if "data" in obj and isinstance(obj["data"], str):
        content_type = str(obj.get("contentType") or "").lower()
        if content_type.startswith(_MEDIA_TYPES) or path.endswith(".photo"):
            yield ("blob", nz.blob_key(obj["data"]), "Q", "photograph or image", path + ".data")
    if not _DEVICE_ID_KEYS.isdisjoint(obj):
        for key in _DEVICE_ID_KEYS & obj.keys():
            if isinstance(obj[key], str):
                yield from _id_keys(obj[key], "M", "device identifier", f"{path}.{key}")
    if "subscriberId" in obj and isinstance(obj["subscriberId"], str):
        yield from _id_keys(
            obj["subscriberId"], "I", "health plan beneficiary number", path + ".subscriberId"
        )
    if "name" in obj and path.endswith("FamilyMemberHistory") and isinstance(obj["name"], str):
        yield ("words", _name_key(obj["name"]), "A", "relative's name", path + ".name")


def _is_person_reference(ref: dict[str, Any], path: str) -> bool:
    """A Reference to the individual (``urn:uuid:`` only counts under a patient key such as ``subject``)."""
    target = str(ref.get("reference", ""))
    if target.startswith(("Patient/", "RelatedPerson/", "Person/")) or "/Patient/" in target:
        return True
    return target.startswith("urn:uuid:") and path.endswith((".subject", ".patient", ".beneficiary"))


def _name_key(text: str) -> str:
    return " ".join(w for w in nz.words(text) if w not in _NAME_TITLES)[:200]


def _human_name(name: dict[str, Any], path: str) -> Iterator[_Item]:
    given = [g for g in name.get("given") or [] if isinstance(g, str)]
    family_value = name.get("family")
    family = family_value if isinstance(family_value, str) else ""
    for part in [*given, family]:
        for token in nz.words(part):
            yield ("words", token, "A", "name part", path)
        if len(nz.words(part)) > 1:
            yield ("words", nz.words_key(part), "A", "name part", path)
    if given and family:
        yield ("words", nz.words_key(" ".join([*given, family])), "A", "full name", path)
        yield ("words", nz.words_key(f"{given[0]} {family}"), "A", "full name", path)
    if isinstance(name.get("text"), str):
        yield ("words", _name_key(name["text"]), "A", "full name", path + ".text")


def _is_address(obj: dict[str, Any]) -> bool:
    return (
        "line" in obj or "city" in obj or "postalCode" in obj or "district" in obj
    ) and "family" not in obj


def _address(addr: dict[str, Any], path: str) -> Iterator[_Item]:
    for line in addr.get("line") or []:
        if isinstance(line, str):
            yield ("words", nz.words_key(line), "B", "street address", path + ".line")
    if isinstance(addr.get("city"), str):
        yield ("words", nz.words_key(addr["city"]), "B", "city", path + ".city")
    if isinstance(addr.get("district"), str):
        yield ("words", nz.words_key(addr["district"]), "B", "county", path + ".district")
    if isinstance(addr.get("postalCode"), str):
        zip5 = nz.zip_key(addr["postalCode"])
        if zip5:
            yield ("zip", zip5, "B", "ZIP code", path + ".postalCode")


def _contact_point(system: str, value: str, path: str) -> Iterator[_Item]:
    child = path + ".value"
    if system in ("phone", "pager", "sms", "fax"):
        category, label = ("E", "fax number") if system == "fax" else ("D", "telephone number")
        for key in nz.phone_keys(value):
            yield ("digits", key, category, label, child)
    elif system == "email":
        yield ("compact", nz.compact_key(value), "F", "e-mail address", child)
    elif system == "url":
        yield ("whole", nz.whole_key(value), "N", "URL", child)
    else:
        yield from _id_keys(value, "R", "other contact", child)


def _identifier(ident: dict[str, Any], path: str) -> Iterator[_Item]:
    category, label = "R", "other identifier"
    system_value = ident.get("system")
    system = system_value if isinstance(system_value, str) else ""
    codes = [
        c.get("code")
        for c in ((ident.get("type") or {}).get("coding") or [])
        if isinstance(ident.get("type"), dict) and isinstance(c, dict)
    ]
    for code in codes:
        if code in _IDENTIFIER_TYPES:
            category, label = _IDENTIFIER_TYPES[code]
            break
    else:
        if system.endswith("us-ssn"):
            category, label = "G", "social security number"
        elif "device" in path.lower():
            category, label = "M", "device identifier"
    yield from _id_keys(ident["value"], category, label, path + ".value")


def _id_keys(value: str, category: str, label: str, path: str) -> Iterator[_Item]:
    if _NUMBER_RE.fullmatch(value):
        yield ("digits", nz.digits_key(value), category, label, path)
    yield ("compact", nz.compact_key(value), category, label, path)
