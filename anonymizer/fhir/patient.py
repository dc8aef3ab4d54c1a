"""Which patient a resource belongs to: the key tables join on and the ``patient`` date-shift scope uses."""

from __future__ import annotations

import re
from typing import Any

#: Elements that point at the patient a resource is about, in order of preference.
PATIENT_ELEMENTS = ("subject", "patient", "beneficiary", "individual", "who", "for")
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([^/?#]+)(?:/_history/[^/]+)?$")
_URN_UUID = re.compile(r"^urn:uuid:(.+)$")
_ENCOUNTER_REF = re.compile(r"(?:^|/)Encounter/([^/?#]+)(?:/_history/[^/]+)?$")
#: Elements that link a resource to an Encounter (``context.encounter``: DocumentReference), in order.
ENCOUNTER_LINKS = (("encounter",), ("context", "encounter"), ("context",))


def patient_id(resource: dict[str, Any]) -> str | None:
    """The id of the patient ``resource`` belongs to, or ``None``.

    A Patient's own ``id``; otherwise the first of ``subject``, ``patient``, ``beneficiary``, ... whose reference
    names a Patient (``Patient/x``, an absolute URL ending in ``Patient/x``, or ``urn:uuid:x`` when the element
    is ``subject``/``patient``, which only ever point at patients or groups in bulk exports).
    """
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) else None
    for element in PATIENT_ELEMENTS:
        found = element_patient_id(element, resource.get(element))
        if found is not None:
            return found
    return None


def element_patient_id(element: str, ref: Any) -> str | None:
    """The patient id the value of one of :data:`PATIENT_ELEMENTS` names (the first of a list), or ``None``:
    the test :func:`patient_id` applies to each element in turn."""
    if isinstance(ref, list):
        ref = ref[0] if ref else None
    if not isinstance(ref, dict):
        return None
    text = ref.get("reference")
    if not isinstance(text, str):
        return None
    m = _PATIENT_REF.search(text)
    if m:
        return m.group(1)
    m = _URN_UUID.match(text)
    if m and (ref.get("type") in (None, "Patient")) and element in ("subject", "patient", "beneficiary"):
        return m.group(1)
    return None


def linked_encounter_id(resource: dict[str, Any]) -> str | None:
    """The id of the Encounter a resource without a patient link points at (``encounter``,
    ``context.encounter``, ``context``), or ``None``: such a resource belongs to that encounter's patient."""
    for path in ENCOUNTER_LINKS:
        for ref in _at(resource, path):
            text = ref.get("reference") if isinstance(ref, dict) else None
            m = _ENCOUNTER_REF.search(text) if isinstance(text, str) else None
            if m:
                return m.group(1)
    return None


def _at(node: Any, path: tuple[str, ...]) -> list[Any]:
    """The values at ``path`` below ``node`` (lists flattened)."""
    current = [node]
    for key in path:
        nxt: list[Any] = []
        for item in current:
            value = item.get(key) if isinstance(item, dict) else None
            nxt.extend(value if isinstance(value, list) else [value] if value is not None else [])
        current = nxt
    return current
