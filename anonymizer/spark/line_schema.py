"""The one schema every input line is transformed into: an output row or a quarantine row, never lost."""

from __future__ import annotations

import pyarrow as pa

STATUS_OK = "ok"
STATUS_QUARANTINED = "quarantined"
STATUS_SKIPPED = (
    "skipped"  # processingErrors=skip: Microsoft's empty resource is written AND the line is quarantined
)

#: Quarantine reasons (stable codes; documented in docs/design.md).
MALFORMED_JSON = "malformed_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_RESOURCE_TYPE = "missing_resource_type"
UNKNOWN_RESOURCE_TYPE = "unknown_resource_type"
LINE_TOO_LARGE = "line_too_large"
INVALID_UTF8 = "invalid_utf8"
EMPTY_LINE = "empty_line"
PROCESSING_ERROR = "processing_error"
INVALID_INPUT = "invalid_input"
#: The engine failed in a way it does not anticipate (a bug): the line is kept, the job goes on.
ENGINE_ERROR = "engine_error"

TRANSFORMED_SCHEMA = pa.schema(
    [
        ("status", pa.string()),
        ("resource_type", pa.string()),
        ("id", pa.string()),
        ("patient_key", pa.string()),
        ("last_updated", pa.string()),
        ("resource_json", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw_line", pa.string()),
        ("source_file", pa.string()),
        ("split_start", pa.int64()),
        ("line_in_split", pa.int64()),
        # The engine's rule hits of the rows of one Arrow batch ({"<rule index>:<method>": n}), on the batch's
        # first row only; summed by the run summary (no collect of rows, no accumulator: works on Spark Connect).
        ("rule_hits_json", pa.string()),
    ]
)

#: The same schema as a Spark DDL string (for mapInArrow).
TRANSFORMED_DDL = (
    "status string, resource_type string, id string, patient_key string, last_updated string, resource_json string, "
    "reason string, detail string, raw_line string, source_file string, split_start bigint, line_in_split bigint, "
    "rule_hits_json string"
)


def r4_resource_types() -> frozenset[str]:
    """Every FHIR R4 resource type (the engine's type model)."""
    from anonymizer.fhir.model import r4

    return r4().resource_types
