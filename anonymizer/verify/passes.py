"""The two Python passes of verify: each zone is parsed once, and every check takes its part of the records.

* :func:`source_pass` over the landing lines: per line its type and id (counts), the value digests per path
  (changes), the harvested identifier keys (leak audit) and the decades of dates about an individual (precision);
* :func:`output_pass` over the research-zone rows (and the views rows, searched only): rows of the run per type
  (counts), value digests per path and security labels (changes), the match keys the harvest Bloom filter lets
  through (leak audit), the precision and identifier-shape findings.

Both are one ``mapInArrow`` that emits :data:`RECORD_DDL` rows, tagged by ``rec``; counters are summed per Arrow
batch before they leave Python. The caller persists the records and aggregates them with DataFrame operations
(no RDD, no broadcast: the same code runs on Spark Connect). Only aggregates ever reach the driver.
"""

from __future__ import annotations

import gc
import re
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from anonymizer.verify import normalize as nz
from anonymizer.verify import precision_checks
from anonymizer.verify.bloom import KeyBloom
from anonymizer.verify.candidates import MIN_LENGTH, Blob, value_keys
from anonymizer.verify.changes import security_codes
from anonymizer.verify.harvest import PERSON_TYPES
from anonymizer.verify.memo import Memo
from anonymizer.verify.resource_scan import OutputScanner, reference_scan

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: One schema for every record; which columns a record uses depends on ``rec``:
#: ``line`` (rtype, norm = id), ``leaf`` (rtype, path, digest, n), ``harvest`` (rtype/path = where harvested,
#: kind, norm, category, label), ``decade`` (norm = decade, n), ``rows`` (rtype, n), ``label`` (rtype,
#: norm = code, n), ``cand`` (uid, rtype, path, kind, norm, digest of the value), ``precision`` and ``ident``
#: (rtype, path, kind = check, n).
RECORD_DDL = (
    "rec string, rtype string, path string, kind string, norm string, category string, label string, "
    "digest bigint, n bigint, uid bigint"
)
_FIELDS = ("rec", "rtype", "path", "kind", "norm", "category", "label", "digest", "n", "uid")
_SCHEMA = pa.schema(
    [(name, pa.int64() if name in ("digest", "n", "uid") else pa.string()) for name in _FIELDS]
)  # fmt: skip
_BATCH_ROWS = 5000
#: Counters are summed over a whole partition and emitted when they hold this many keys (and at its end).
_FLUSH_KEYS = 200_000
#: The scanner's counted entries are added to the partition's counters when this many are pending.
_PENDING = 50_000
#: One record: the values of :data:`_FIELDS`, in order.
Record = tuple[Any, ...]
_UNPACK_LONG = struct.Struct("<q").unpack


def record_digest(digest: bytes | None) -> int | None:
    """A value digest (8 bytes) as the records carry it: a signed 64-bit integer (little-endian), so the JVM caches,
    hashes, shuffles and joins a fixed-width long instead of a binary value (the same 64 bits: the same
    comparisons)."""
    return None if digest is None else _UNPACK_LONG(digest)[0]


def _batches(records: Iterator[Record]) -> Iterator[pa.RecordBatch]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= _BATCH_ROWS:
            yield _to_batch(chunk)
            chunk = []
    if chunk:
        yield _to_batch(chunk)


def _to_batch(chunk: list[Record]) -> pa.RecordBatch:
    columns = zip(*chunk, strict=True)
    return pa.RecordBatch.from_arrays(
        [pa.array(column, type=field.type) for column, field in zip(columns, _SCHEMA, strict=True)],
        schema=_SCHEMA,
    )


def _parse(text: str | None) -> dict[str, Any] | None:
    try:
        resource = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        return None
    return resource if isinstance(resource, dict) else None


def source_pass(source_lines: DataFrame) -> DataFrame:
    """Records of every landing line (columns ``file``, ``line``): ``line``, ``leaf``, ``harvest``, ``decade``."""
    return source_lines.select("file", "line").mapInArrow(_source_partition, RECORD_DDL)


def _source_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    from anonymizer.spark.line_schema import r4_resource_types
    from anonymizer.spark.line_text import line_texts
    from anonymizer.spark.transform import type_from_file_name
    from anonymizer.verify.counts import NO_TYPE
    from anonymizer.verify.source_scan import SourceScanner

    known = r4_resource_types()
    hints: dict[str, str] = {}
    scanner = SourceScanner()

    def flush() -> Iterator[Record]:
        leaves, decades = scanner.drain()
        for (rtype, path, digest), n in leaves.items():
            yield ("leaf", rtype, path, None, None, None, None, _UNPACK_LONG(digest)[0], n, None)
        for decade, n in decades.items():
            yield ("decade", None, None, None, decade, None, None, None, n, None)
        for kind, norm, category, label, src_type, src_path in scanner.harvested:
            yield ("harvest", src_type, src_path, kind, norm, category, label, None, None, None)
        scanner.harvested.clear()

    def records() -> Iterator[Record]:
        for batch in batches:
            files, lines = batch.column("file").to_pylist(), line_texts(batch.column("line"))
            for file, line in zip(files, lines, strict=True):
                resource = _parse(line)
                rtype = resource.get("resourceType") if resource is not None else None
                if isinstance(rtype, str) and rtype in known:
                    rid = resource.get("id") if resource else None
                    norm = None if rid is None else _scalar_text(rid)
                    yield ("line", rtype, None, None, norm, None, None, None, None, None)
                else:
                    if file not in hints:
                        name = file.rstrip("/").rsplit("/", 1)[-1]
                        hints[file] = type_from_file_name(name, known) or NO_TYPE
                    yield ("line", hints[file], None, None, None, None, None, None, None, None)
                if resource is not None and isinstance(rtype, str):
                    scanner.scan(resource)
            if scanner.pending() > _FLUSH_KEYS:
                yield from flush()
        yield from flush()

    with _no_cyclic_gc():
        yield from _batches(records())


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector off while a pass runs (restored after). The parsed resources hold no reference
    cycles, reference counting frees what dies, and the collector would only traverse the memos (hundreds of
    thousands of tuples) again and again: a fifth of the source pass's Python time, a third of the output pass's
    over resources not met before."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _scalar_text(value: Any) -> str:
    """An id as Spark's ``get_json_object`` gives it: strings as they are, other JSON as JSON text."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def output_pass(
    audited: DataFrame,
    bloom: KeyBloom,
    promises: precision_checks.Promises,
    as_of: date,
    zip_exempt: frozenset[str],
    run_id: str | None,
) -> DataFrame:
    """Records of every research-zone row (columns ``uid, rtype, patient_key, run_id, json``; rows of a
    ``view:`` type are only searched): ``rows``, ``leaf``, ``label``, ``cand``, ``precision``, ``ident``."""
    run = _output_partition(bloom, promises, as_of, zip_exempt, run_id)
    return audited.select("uid", "rtype", "patient_key", "run_id", "json").mapInArrow(run, RECORD_DDL)


def _output_partition(
    bloom: KeyBloom,
    promises: precision_checks.Promises,
    as_of: date,
    zip_exempt: frozenset[str],
    run_id: str | None,
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    from anonymizer.views.audit import VIEW_TYPE_PREFIX

    # The filter travels in the function's closure (no broadcast variables under Spark Connect).
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        keys_of = filtered_keys(bloom)
        scanner = OutputScanner(keys_of, promises, as_of, zip_exempt)
        with _no_cyclic_gc():
            try:
                yield from _batches(records(batches, keys_of, scanner))
            finally:
                scanner.close()  # its walks refer to it: freed now, not by the next collection

    def records(
        batches: Iterator[pa.RecordBatch],
        keys_of: Callable[[str | float], list[tuple[str, str]]],
        scanner: OutputScanner,
    ) -> Iterator[Record]:
        rows: Counter[str] = Counter()
        leaves: Counter[tuple[str, str, bytes]] = Counter()
        labels: Counter[tuple[str, str]] = Counter()
        findings: Counter[tuple[str, str, str, str]] = Counter()

        def flush() -> Iterator[Record]:
            scanner.drain(leaves, findings)
            for rtype, n in rows.items():
                yield ("rows", rtype, None, None, None, None, None, None, n, None)
            for (rtype, path, digest), n in leaves.items():
                yield ("leaf", rtype, path, None, None, None, None, record_digest(digest), n, None)
            for (rtype, code), n in labels.items():
                yield ("label", rtype, None, None, code, None, None, None, n, None)
            for (rec, check, rtype, path), n in findings.items():
                yield (rec, rtype, path, check, None, None, None, None, n, None)
            for counter in (rows, leaves, labels, findings):
                counter.clear()

        for batch in batches:
            names = ("uid", "rtype", "patient_key", "run_id", "json")
            columns = [batch.column(name).to_pylist() for name in names]
            for uid, rtype, patient_key, row_run, text in zip(*columns, strict=True):
                view = rtype.startswith(VIEW_TYPE_PREFIX)
                if not view and (run_id is None or row_run == run_id):
                    rows[rtype] += 1
                resource = _parse(text)
                if resource is None:
                    continue
                own_type = resource.get("resourceType")
                person = rtype in PERSON_TYPES or patient_key is not None
                if isinstance(own_type, str):
                    # value digests and findings are counted in the scanner's entries until drained
                    for kind, norm, path, digest in scanner.add(
                        resource, rtype, person=person, searched_only=view
                    ):
                        yield ("cand", rtype, path, kind, norm, None, None, record_digest(digest), None, uid)
                    if not view:
                        for code in security_codes(resource):
                            labels[(rtype, code)] += 1
                    continue
                # never written by the engine: the reference functions (paths start "Unknown"/"None")
                scan = reference_scan(
                    resource, keys_of, promises, as_of, zip_exempt, person=person, searched_only=view
                )
                for kind, norm, path, digest in scan.candidates:
                    yield ("cand", rtype, path, kind, norm, None, None, record_digest(digest), None, uid)
                if view:
                    continue
                for (path, digest), n in scan.leaves.items():
                    leaves[(str(own_type), path, digest)] += n
                for code in security_codes(resource):
                    labels[(rtype, code)] += 1
                for (check, path), n in scan.precision.items():
                    findings[("precision", check, rtype, path)] += n
                for (check, path), n in scan.ident.items():
                    findings[("ident", check, rtype, path)] += n
            if scanner.backlog() > _PENDING:
                scanner.drain(leaves, findings)
            if len(leaves) > _FLUSH_KEYS:
                yield from flush()
        yield from flush()

    return run


def filtered_keys(bloom: KeyBloom) -> Callable[[str | float], list[tuple[str, str]]]:
    """``value -> keys that may be harvested`` with a per-partition memo of short values."""
    memo = Memo()
    short: dict[
        tuple[str, str], bool
    ] = {}  # the filter's answer for short keys: words of many values ("urn")

    def passing(value: str | float) -> list[tuple[str, str]]:
        keys = plain_keys(value) if type(value) is str else None
        out = []
        for key in value_keys(value) if keys is None else keys:
            if len(key[1]) <= _SHORT_KEY_CHARS:
                found = short.get(key)
                if found is None:
                    if len(short) >= _SHORT_KEYS:
                        short.clear()
                    found = short[key] = key in bloom
            else:
                found = key in bloom
            if found:
                out.append(key)
        return out

    def keys_of(value: str | float) -> list[tuple[str, str]]:
        cached = memo.get(value)
        if cached is None:
            if isinstance(value, float) or (len(value) <= 256 and not isinstance(value, Blob)):
                cached = memo.miss(value, passing, value)
            else:
                cached = passing(value)
        return cached

    return keys_of


_SHORT_KEY_CHARS = 16
_SHORT_KEYS = 100_000
_MIN_WORDS, _MIN_COMPACT, _MIN_WHOLE = MIN_LENGTH["words"], MIN_LENGTH["compact"], MIN_LENGTH["whole"]
#: Longest text whose whole compact and whole keys are emitted (``candidates._string_keys``).
_WHOLE_MAX_CHARS = 200
_PLAIN_SEPARATORS = re.compile(r"[:/]")


def plain_keys(text: str) -> list[tuple[str, str]] | None:
    """:func:`~anonymizer.verify.candidates.value_keys` of the shape most values met once have, without its regular
    expressions, or None for any other text (``tests/verify/test_resource_scan.py`` checks the equality).

    The shape: ASCII words of letters and digits, each with a letter, joined by single ``:`` or ``/`` (a
    pseudonymised id, ``Observation/<id>``, ``urn:uuid:<id>``). In such text no digit run, ZIP or date stands alone
    (a letter or a separator touches every digit, and a date needs ``-`` or a number between two ``/``), nothing is
    a tag and there is no ``://``; what is left is the words, the chunks and the whole value."""
    if not text.isascii():
        return None
    low = text.lower()
    if low.isalnum():
        if low.isdigit():
            return None
        size = len(low)
        keys = [("words", low)] if size >= _MIN_WORDS else []
        if size >= _MIN_COMPACT:
            keys.append(("compact", low))  # the chunk, and the whole value's compact key
            if _MIN_WHOLE <= size <= _WHOLE_MAX_CHARS:
                keys.append(("whole", low))
        return keys
    words = low.split("/") if ":" not in low else _PLAIN_SEPARATORS.split(low)
    for word in words:
        if not word.isalnum() or word.isdigit():  # empty, other characters, digits only
            return None
    grams = (words[0], f"{words[0]} {words[1]}", words[1]) if len(words) == 2 else nz.word_ngrams(words)
    keys = [("words", gram) for gram in grams if len(gram) >= _MIN_WORDS]
    keys += [("compact", word) for word in words if len(word) >= _MIN_COMPACT]
    whole = "".join(words)
    if len(whole) >= _MIN_COMPACT and len(text) <= _WHOLE_MAX_CHARS:
        keys.append(("compact", whole))
        if len(text) >= _MIN_WHOLE:
            keys.append(("whole", low))
    # distinct words give distinct n-grams and chunks (words hold no space)
    return keys if len(set(words)) == len(words) else list(dict.fromkeys(keys))
