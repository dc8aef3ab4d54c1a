"""The Arrow batches the transform hands back to Spark: output rows as tuples, quarantine rows as dicts."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pyarrow as pa

from anonymizer.spark import line_schema as ls

#: The columns an output row (``status`` "ok") fills, in this order; the other columns
#: of :data:`~anonymizer.spark.line_schema.TRANSFORMED_SCHEMA` are null on every output row.
ROW_COLUMNS = ("resource_type", "id", "patient_key", "last_updated", "resource_json")


def output_batch(rows: list[Any], has_positions: bool, rule_hits: str | None) -> pa.RecordBatch:
    """The Arrow batch of one input batch's rows (output rows as :data:`ROW_COLUMNS` tuples, the others as dicts);
    ``rule_hits`` (:func:`hits_json`) as ``rule_hits_json`` on its first row only. Without quarantine rows (``has_positions`` False) the quarantine
    columns are all null and the output columns are the tuples transposed."""
    n = len(rows)
    columns: dict[str, Any]
    if has_positions:
        full = [
            row
            if row.__class__ is dict
            else {"status": ls.STATUS_OK, **dict(zip(ROW_COLUMNS, row, strict=True))}
            for row in rows
        ]
        columns = {name: [row.get(name) for row in full] for name in ls.TRANSFORMED_SCHEMA.names}
    else:
        columns = dict(zip(ROW_COLUMNS, map(list, zip(*rows, strict=True)) if n else ([],) * 5, strict=True))
        columns["status"] = [ls.STATUS_OK] * n
    for name in ls.TRANSFORMED_SCHEMA.names:
        if name not in columns:
            columns[name] = pa.nulls(n, ls.TRANSFORMED_SCHEMA.field(name).type)
    columns["rule_hits_json"] = pa.array([rule_hits] + [None] * (n - 1) if n else [], pa.string())
    return pa.RecordBatch.from_pydict(columns, schema=ls.TRANSFORMED_SCHEMA)


def hits_json(hits: Counter[tuple[int, str]]) -> str | None:
    """A batch's rule hits as ``{"<rule index>:<method>": n}`` JSON (None when nothing was changed)."""
    return (
        orjson.dumps({f"{index}:{method}": n for (index, method), n in hits.items()}).decode()
        if hits
        else None
    )
