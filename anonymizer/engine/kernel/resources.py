"""Which JSON values are resources the engine processes (the top level, and resources inside a resource)."""

from __future__ import annotations

from typing import Any

from anonymizer.errors import InvalidInputError
from anonymizer.fhir.model import TypeModel


def resource_type_of(value: Any, model: TypeModel, path: str | None = None) -> str:
    """The ``resourceType`` of ``value``; raises :class:`InvalidInputError` unless it is an R4 resource.

    ``path`` names where a resource inside a resource was found (``None``: the top-level resource).
    """
    if path is None:
        if not isinstance(value, dict):
            raise InvalidInputError("The input FHIR resource JSON is invalid: not a JSON object")
        resource_type = value.get("resourceType")
        if not isinstance(resource_type, str) or resource_type not in model.resource_types:
            raise InvalidInputError(
                "The input FHIR resource JSON is invalid: unknown or missing resourceType"
            )
        return resource_type
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise InvalidInputError(f"The input FHIR resource is invalid: {path} is not a resource")
    resource_type = value["resourceType"]
    if resource_type not in model.resource_types:
        raise InvalidInputError(f"The input FHIR resource JSON is invalid: unknown resourceType at {path}")
    return resource_type
