"""The patient key of a shared engine result (``anonymize_raising(shared=True)``), whose memoised elements may be
``orjson.Fragment`` (JSON text, unreadable as a dict)."""

from __future__ import annotations

from typing import Any

import orjson

from anonymizer.fhir.patient import PATIENT_ELEMENTS, element_patient_id

__all__ = ["SharedPatientIds", "shared_patient_id"]


def shared_patient_id(out: dict[str, Any]) -> str | None:
    """:func:`anonymizer.fhir.patient.patient_id` of a shared engine result (``anonymize_raising(shared=True)``),
    whose memoised elements may be ``orjson.Fragment`` (JSON text, unreadable as a dict): those it reads are
    decoded first (a small dict of them, the result itself is not changed)."""
    return SharedPatientIds()(out)


class SharedPatientIds:
    """:func:`shared_patient_id` that remembers what the Fragments it read gave.

    The engine's memo hands out one Fragment object for an element that repeats (the patient's reference in
    each of that patient's resources), so most Fragments read here were read before: the patient id each gave
    (or None) is kept with the Fragment itself (which keeps its ``id`` from being reused while it is
    remembered), per element name. At most ``limit`` are kept (all forgotten beyond it). Elements that are not
    Fragments are read as :func:`anonymizer.fhir.patient.patient_id` reads them.
    """

    __slots__ = ("_found", "_limit")

    def __init__(self, limit: int = 4096) -> None:
        self._found: dict[tuple[int, str, bool], tuple[orjson.Fragment, str | None]] = {}
        self._limit = limit

    def _fragment_id(self, element: str, fragment: orjson.Fragment, in_list: bool) -> str | None:
        key = (id(fragment), element, in_list)
        found = self._found.get(key)
        if found is not None and found[0] is fragment:
            return found[1]
        decoded = orjson.loads(orjson.dumps(fragment))
        value = element_patient_id(element, [decoded] if in_list else decoded)
        if len(self._found) >= self._limit:
            self._found.clear()
        self._found[key] = (fragment, value)
        return value

    def __call__(self, out: dict[str, Any]) -> str | None:
        if out.get("resourceType") == "Patient":
            rid = out.get("id")
            return rid if isinstance(rid, str) else None
        for element in PATIENT_ELEMENTS:
            value = out.get(element)
            if value is None:
                continue
            if value.__class__ is orjson.Fragment:
                found = self._fragment_id(element, value, False)
            elif value.__class__ is list and value and value[0].__class__ is orjson.Fragment:
                found = self._fragment_id(element, value[0], True)  # (patient_id reads the first of a list)
            else:
                found = element_patient_id(element, value)
            if found is not None:
                return found
        return None
