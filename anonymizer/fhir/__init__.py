"""FHIR R4 knowledge: the type model (from fhirpathpy's R4 model data), typed trees, patient keys."""
