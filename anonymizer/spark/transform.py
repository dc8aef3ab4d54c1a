"""The Arrow-batch transform: classify every line, anonymize it with the engine, or quarantine it.

One function handles a partition's stream of Arrow batches (``mapInArrow``); the engine object arrives in the
closure (keys resolved on the driver, never in Spark conf, columns or plan text), is unpickled once per Python
worker, and compiles its per-resource-type plans lazily on first use.

Lines are numbered within their split in arrival order (:class:`LineCounter`), unless the input already has a
``line_in_split`` column: :mod:`anonymizer.spark.patient_context` numbers them before its join (which does not
keep the order) and adds ``ids_json``, the patient's identifying values for contextual ``scrubText``.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from anonymizer.errors import (
    AnonymizerError,
    ConfigError,
    InvalidInputError,
    ProcessingError,
    RuleNotApplicableError,
)
from anonymizer.spark import line_schema as ls
from anonymizer.spark.line_text import line_texts
from anonymizer.spark.patient_key import SharedPatientIds
from anonymizer.spark.transform_batch import ROW_COLUMNS, hits_json, output_batch
from anonymizer.spark.worker_memory import release_freed_memory

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from anonymizer.spark.summary import RuleHit

#: Lines longer than this (bytes, UTF-8) are quarantined instead of parsed.
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024


class LineProcessingAbort(AnonymizerError, RuntimeError):
    """``processingErrors: raise`` hit a failing line: names file and line, never the content."""


@dataclass(frozen=True)
class TransformOptions:
    """Per-run options of the transform."""

    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    source_folder: str | None = None


class LineCounter:
    """1-based position of each line in its split, for lines that arrive in file order (one partition's stream)."""

    def __init__(self) -> None:
        self._position: dict[tuple[str, int], int] = {}

    def next(self, path: str, start: int) -> int:
        """The number of this line within split ``(path, start)``."""
        key = (path, start)
        index = self._position.get(key, 0) + 1
        self._position[key] = index
        return index

    def numbers(self, paths: list[str], starts: list[int]) -> list[int]:
        """:meth:`next` of each ``(paths[i], starts[i])`` in turn (a run of lines of one split counted at once)."""
        out: list[int] = []
        position = self._position
        key: tuple[str, int] | None = None
        index = 0
        for path, start in zip(paths, starts, strict=True):
            if key is None or start != key[1] or path != key[0]:
                if key is not None:
                    position[key] = index
                key = (path, start)
                index = position.get(key, 0)
            index += 1
            out.append(index)
        if key is not None:
            position[key] = index
        return out


def identifiers_parser() -> Callable[[str | None], Any]:
    """``ids_json`` -> ``PatientIdentifiers`` (None for null), one object per distinct JSON so that the scrubber's
    compiled-matcher cache is hit for every resource of the same patient."""
    from anonymizer.text.identifiers import PatientIdentifiers

    parse = lru_cache(maxsize=1024)(PatientIdentifiers.from_json)
    return lambda ids_json: parse(ids_json) if ids_json else None


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


class _Where:
    """``<file> line <n>`` (``<file> split@<start> line <n>`` after a file's first split), formatted only when
    an error message needs it."""

    __slots__ = ("file", "start", "number")

    def __init__(self, file: str, start: int, number: int) -> None:
        self.file, self.start, self.number = file, start, number

    def __str__(self) -> str:
        split = f" split@{self.start}" if self.start else ""
        return f"{self.file}{split} line {self.number}"


def _quarantine(reason: str, detail: str, raw: str, resource_type: str | None = None) -> dict[str, Any]:
    return {
        "status": ls.STATUS_QUARANTINED,
        "reason": reason,
        "detail": detail,
        "raw_line": raw,
        "resource_type": resource_type,
    }


def _output_row(
    out: dict[str, Any], patient_id: Callable[[dict[str, Any]], str | None]
) -> tuple[str | None, str | None, str | None, str | None, str]:
    """The :data:`~anonymizer.spark.transform_batch.ROW_COLUMNS` of an engine result (``status`` "ok")."""
    meta = out.get("meta")
    last_updated = meta.get("lastUpdated") if meta.__class__ is dict else None
    rid = out.get("id")
    return (
        out.get("resourceType"),
        rid if rid.__class__ is str else None,
        patient_id(out),
        last_updated if last_updated.__class__ is str else None,
        orjson.dumps(out).decode("utf-8"),
    )


def _output_columns(
    out: dict[str, Any], patient_id: Callable[[dict[str, Any]], str | None]
) -> dict[str, Any]:
    return dict(zip(ROW_COLUMNS, _output_row(out, patient_id), strict=True))


def process_line(
    line: str,
    anonymizer: Any,
    source_file: str,
    options: TransformOptions,
    known_types: frozenset[str],
    patient_id: Callable[[dict[str, Any]], str | None],
    where: object,
    patient_identifiers: Any = None,
) -> dict[str, Any]:
    """Classify and anonymize one line; returns the transformed row's columns (without position columns).

    ``where`` names the line in error messages (its ``str()``, taken only when one is raised).

    ``patient_identifiers`` (``PatientIdentifiers`` of the line's patient, or None) goes to the engine for
    contextual ``scrubText``.
    """
    row = _classify(
        line, anonymizer, source_file, options, known_types, patient_id, where, patient_identifiers
    )
    if row.__class__ is tuple:
        return {"status": ls.STATUS_OK, **dict(zip(ROW_COLUMNS, row, strict=True))}
    return row  # type: ignore[return-value]


def _classify(
    line: str,
    anonymizer: Any,
    source_file: str,
    options: TransformOptions,
    known_types: frozenset[str],
    patient_id: Callable[[dict[str, Any]], str | None],
    where: object,
    patient_identifiers: Any = None,
) -> tuple[str | None, str | None, str | None, str | None, str] | dict[str, Any]:
    """:func:`process_line`, an output row as :func:`_output_row`'s tuple (status "ok"), any other as its dict."""
    if not line or line.isspace():
        return _quarantine(ls.EMPTY_LINE, "blank line", line)
    if (
        len(line) * 4 > options.max_line_bytes
    ):  # (a character is at most 4 bytes: most lines need no encoding)
        encoded_len = len(line.encode("utf-8", "surrogatepass"))
        if encoded_len > options.max_line_bytes:
            return _quarantine(
                ls.LINE_TOO_LARGE, f"{encoded_len} bytes > limit {options.max_line_bytes}", line
            )
    if "\ufffd" in line:
        # Spark's text reader replaces invalid UTF-8 with U+FFFD; a FHIR export has no reason to contain it.
        return _quarantine(ls.INVALID_UTF8, "line is not valid UTF-8", line)
    try:
        resource = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return _quarantine(ls.MALFORMED_JSON, f"JSON syntax error at character {exc.pos}", line)
    if not isinstance(resource, dict):
        return _quarantine(ls.NOT_AN_OBJECT, f"top-level JSON {type(resource).__name__}, not an object", line)
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        return _quarantine(ls.MISSING_RESOURCE_TYPE, "no resourceType", line)
    if resource_type not in known_types:
        return _quarantine(
            ls.UNKNOWN_RESOURCE_TYPE, "resourceType is not a FHIR R4 resource type", line, None
        )
    try:
        out = anonymizer.anonymize_raising(
            resource,
            source_file=source_file,
            source_folder=options.source_folder,
            patient_identifiers=patient_identifiers,
            shared=True,  # read by _output_row and serialised at once, never kept
        )
    except ProcessingError as exc:
        if anonymizer.processing_errors != "skip":
            raise LineProcessingAbort(
                f"{where}: processing error ({exc}); processingErrors is 'raise'"
            ) from None
        row = _quarantine(ls.PROCESSING_ERROR, str(exc), line, resource_type)
        row.update(_output_columns(anonymizer.empty_resource(resource_type), patient_id))
        row["status"] = ls.STATUS_SKIPPED
        return row
    except (InvalidInputError, RuleNotApplicableError) as exc:
        return _quarantine(ls.INVALID_INPUT, str(exc), line, resource_type)
    except ConfigError as exc:
        raise LineProcessingAbort(f"{where}: configuration error ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - an engine bug must not lose the line or print its content
        detail = (
            f"unexpected {type(exc).__name__} in the engine (a bug; the message is withheld: it may hold PHI)"
        )
        return _quarantine(ls.ENGINE_ERROR, detail, line, resource_type)
    return _output_row(out, patient_id)


def make_partition_transform(
    anonymizer: Any, options: TransformOptions
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """Build the ``mapInArrow`` function.

    Input columns: ``value``, ``source_path``, ``split_start``, and optionally ``line_in_split`` (lines already
    numbered, in any order) and ``ids_json`` (the line's patient's ``PatientIdentifiers.to_json()``, or null).
    """

    def transform(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import gc

        # A reused Python worker still holds the engine of its previous task (plans and memos are reference
        # cycles, which only a full collection frees): free it before this task's engine fills its memos.
        gc.collect()

        known_types = ls.r4_resource_types()
        counter = LineCounter()
        identifiers = identifiers_parser()
        patient_key = SharedPatientIds()
        files: dict[str, tuple[str, str | None]] = {}  # path -> (file name, the type its name announces)
        # One object, set per line: its str() is taken only when an error is raised.
        where = _Where("", 0, 0)
        # The cyclic garbage collector is off while the lines are processed (the session's setting is restored
        # after): reference counting frees each line's objects (they hold no cycles), and its collections would
        # only traverse the engine's growing plans and memos again and again (about 5 % of the Python workers'
        # CPU in a 120,000-line task; docs/performance.md, ninth session).
        collecting = gc.isenabled()
        gc.disable()
        try:
            yield from _transform_batches(
                batches, anonymizer, options, known_types, counter, identifiers, patient_key, files, where
            )
        finally:
            if collecting:
                gc.enable()
            # The worker stays alive after its task (reused for the next one, or idle through the stage and
            # publish steps): drop this task's engine and give the freed pages back (worker_memory).
            release = getattr(anonymizer, "release_engine", None)
            if release is not None:
                release()
            release_freed_memory()

    return transform


def _transform_batches(
    batches: Iterator[pa.RecordBatch],
    anonymizer: Any,
    options: TransformOptions,
    known_types: frozenset[str],
    counter: LineCounter,
    identifiers: Callable[[str | None], Any],
    patient_key: SharedPatientIds,
    files: dict[str, tuple[str, str | None]],
    where: _Where,
) -> Iterator[pa.RecordBatch]:
    """The output batch of each input batch (:func:`make_partition_transform`'s loop)."""
    for batch in batches:
        hits_before = Counter(anonymizer.rule_hits)
        rows: list[Any] = []  # output rows as _output_row tuples, others as dicts
        has_positions = False  # some row is not an output row (it has quarantine columns)
        values = line_texts(batch.column("value"))
        paths = batch.column("source_path").to_pylist()
        starts = batch.column("split_start").to_pylist()
        fields = batch.schema.names
        numbers = (
            batch.column("line_in_split").to_pylist()
            if "line_in_split" in fields
            else counter.numbers(paths, starts)
        )
        id_jsons = batch.column("ids_json").to_pylist() if "ids_json" in fields else [None] * len(paths)
        for value, path, start, number, ids_json in zip(
            values, paths, starts, numbers, id_jsons, strict=True
        ):
            file = files.get(path)
            if file is None:
                name = _basename(path)
                file = files[path] = (name, type_from_file_name(name, known_types))
            where.file, where.start, where.number = file[0], start, number
            row = _classify(
                value or "",
                anonymizer,
                file[0],
                options,
                known_types,
                patient_key,
                where,
                identifiers(ids_json) if ids_json else None,
            )
            if row.__class__ is tuple:
                if row[0] is None:
                    row = (file[1], *row[1:])
                rows.append(row)
                continue
            assert isinstance(row, dict)
            # Positions only where the quarantine needs them (output rows are written without them).
            has_positions = True
            if row.get("resource_type") is None:
                row["resource_type"] = file[1]
            row["source_file"] = path
            row["split_start"] = start
            row["line_in_split"] = number
            if row.get("raw_line") is not None and not _is_valid_text(row["raw_line"]):
                row["raw_line"] = base64.b64encode(row["raw_line"].encode("utf-8", "surrogatepass")).decode(
                    "ascii"
                )
            rows.append(row)
        yield output_batch(rows, has_positions, hits_json(anonymizer.rule_hits - hits_before))


def sum_rule_hits(transformed: DataFrame) -> list[RuleHit]:
    """The rule hits of every batch of ``transformed`` (its ``rule_hits_json``), summed per rule and method.

    Only the per-rule sums reach the driver (one row per rule that changed something).
    """
    from pyspark.sql import functions as F

    from anonymizer.spark.summary import RuleHit

    per_batch = transformed.where(F.col("rule_hits_json").isNotNull()).select(
        F.explode(F.from_json("rule_hits_json", "map<string,bigint>")).alias("rule", "n")
    )
    sums = per_batch.groupBy("rule").agg(F.sum("n").alias("n")).collect()
    hits = []
    for row in sums:
        index, _, method = row["rule"].partition(":")
        hits.append(RuleHit(int(index), method, int(row["n"])))
    return sorted(hits, key=lambda h: (h.rule_index, h.method))


_NAME_TOKEN = re.compile(r"[A-Za-z]+")


def type_from_file_name(file_name: str, known_types: frozenset[str]) -> str | None:
    """The resource type a bulk-export file name announces (``Patient.000.ndjson``, ``Patient-<job>-1.ndjson``,
    ``1.Patient.ndjson``), or ``None`` for mixed or unknown names."""
    found = {t for t in _NAME_TOKEN.findall(file_name) if t in known_types}
    return found.pop() if len(found) == 1 else None


def _is_valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
