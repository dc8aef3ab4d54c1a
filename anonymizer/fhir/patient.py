"""Which patient a resource belongs to: the key tables join on and the ``patient`` date-shift scope uses."""

from __future__ import annotations

import re
from typing import Any

#: Elements that point at the patient a resource is about, in order of preference.
PATIENT_ELEMENTS = ("subject", "patient", "beneficiary", "individual", "who", "for")
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([^/?#]+)(?:/_history/[^/]+)?$")
_URN_UUID = re.compile(r"^urn:uuid:(.+)$")


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
        ref = resource.get(element)
        if isinstance(ref, list):
            ref = ref[0] if ref else None
        if not isinstance(ref, dict):
            continue
        text = ref.get("reference")
        if not isinstance(text, str):
            continue
        m = _PATIENT_REF.search(text)
        if m:
            return m.group(1)
        m = _URN_UUID.match(text)
        if m and (ref.get("type") in (None, "Patient")) and element in ("subject", "patient", "beneficiary"):
            return m.group(1)
    return None
