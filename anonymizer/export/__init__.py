"""FHIR Bulk Data ``$export`` client: kick-off, status polling, manifest, streaming download into a landing target."""

from __future__ import annotations

from anonymizer.export.client import ExportRequest, ExportResult
from anonymizer.export.errors import ExportError
from anonymizer.export.runner import run_export

__all__ = ["ExportError", "ExportRequest", "ExportResult", "run_export"]
