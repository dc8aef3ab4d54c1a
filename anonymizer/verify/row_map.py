"""Run a Python generator over a DataFrame's rows on the executors: ``mapInArrow``, no RDD.

Verification steps are per-partition Python generators (parse a resource, emit match keys or counts) followed
by a Spark ``groupBy``/join. :func:`map_rows` wraps such a generator in ``mapInArrow`` so that the same code
runs on classic sessions, Spark Connect (which has no RDDs) and every Spark line of the support matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: Output rows per Arrow batch handed back to Spark.
_BATCH_ROWS = 5000
_ARROW_TYPES = {"string": pa.string(), "long": pa.int64(), "bigint": pa.int64(), "binary": pa.binary()}

RowFunction = Callable[[Iterator[dict[str, Any]]], Iterable[tuple[Any, ...]]]


def arrow_schema(ddl: str) -> pa.Schema:
    """``"a string, n long"`` -> the Arrow schema (string, long/bigint and binary columns)."""
    fields = []
    for part in ddl.split(","):
        name, type_name = part.split()
        fields.append((name, _ARROW_TYPES[type_name.lower()]))
    return pa.schema(fields)


def _rows(batches: Iterator[pa.RecordBatch], texts: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    if not texts:
        for batch in batches:
            yield from batch.to_pylist()
        return
    from anonymizer.spark.line_text import line_texts

    for batch in batches:
        names = batch.schema.names
        columns = [line_texts(batch.column(n)) if n in texts else batch.column(n).to_pylist() for n in names]
        for values in zip(*columns, strict=True):
            yield dict(zip(names, values, strict=True))


def _runner(
    func: RowFunction, ddl: str, texts: tuple[str, ...] = ()
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        schema = arrow_schema(ddl)
        chunk: list[tuple[Any, ...]] = []
        for out in func(_rows(batches, texts)):
            chunk.append(out)
            if len(chunk) >= _BATCH_ROWS:
                yield _batch(chunk, schema)
                chunk = []
        if chunk:
            yield _batch(chunk, schema)

    return run


def _batch(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays(
        [pa.array(col, type=field.type) for col, field in zip(columns, schema, strict=True)], schema=schema
    )


def map_rows(df: DataFrame, func: RowFunction, ddl: str, *, texts: tuple[str, ...] = ()) -> DataFrame:
    """Apply ``func`` (rows as dicts in, tuples matching ``ddl`` out) to every partition of ``df``.

    ``texts``: string columns that may hold invalid UTF-8 (landing lines read undecoded); they are decoded as the
    JVM would (:func:`anonymizer.spark.line_text.line_texts`)."""
    return df.mapInArrow(_runner(func, ddl, texts), ddl)
