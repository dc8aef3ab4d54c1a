"""Each patient's identifying values, joined to that patient's lines, for contextual ``scrubText``.

Built only when the config has a ``scrubText`` rule that uses the patient's values (:func:`needs_patient_identifiers`);
otherwise the pipeline reads the lines straight into the transform, at no extra cost. Nothing is collected on
the driver and no executor holds more than its share of patients:

1. :func:`numbered_lines`: one narrow ``mapInArrow`` over the raw lines (file order is still intact there)
   numbers each line in its split, as the transform would, and adds its ``patient_key``
   (``anonymizer.fhir.patient.patient_id`` of the parsed resource) or, for a line without one, the Encounter it
   points at (``linked_encounter_id``: ``encounter``, ``context.encounter``); a left join to
   :func:`encounter_patients` (Encounter id -> its subject, one row per id) then gives such a line the
   encounter's patient;
2. :func:`identifiers_by_patient`: the raw Patient and RelatedPerson lines (a JVM regex picks the candidates,
   Python parses only those) give one ``PatientIdentifiers`` JSON each; ``groupBy(patient_key)`` merges them
   into one ``ids_json`` per patient;
3. :func:`with_patient_identifiers`: a left join of (2) to (1) on the patient key. Keys are unique on the right,
   so every line comes out exactly once; lines without a patient get a unique dummy key so that they spread
   over the partitions instead of all hashing to the null key's one.

The transform (:mod:`anonymizer.spark.transform`) then passes ``PatientIdentifiers.from_json(ids_json)`` to
``Anonymizer.anonymize(..., patient_identifiers=...)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from anonymizer.spark.line_text import line_texts

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from anonymizer.config import AnonymizerConfig

NUMBERED_SCHEMA = pa.schema(
    [
        ("value", pa.string()),
        ("source_path", pa.string()),
        ("split_start", pa.int64()),
        ("line_in_split", pa.int64()),
        ("patient_key", pa.string()),
        ("encounter_key", pa.string()),
    ]
)
NUMBERED_DDL = (
    "value string, source_path string, split_start bigint, line_in_split bigint, patient_key string, "
    "encounter_key string"
)
ENCOUNTERS_DDL = "encounter_key string, encounter_patient string"
ENCOUNTERS_SCHEMA = pa.schema([("encounter_key", pa.string()), ("encounter_patient", pa.string())])
#: Lines that may be an Encounter (checked again on the parsed resource).
ENCOUNTER_LINE_REGEX = r'"resourceType"\s*:\s*"Encounter"'
IDS_DDL = "patient_key string, ids_json string"
IDS_SCHEMA = pa.schema([("patient_key", pa.string()), ("ids_json", pa.string())])
#: Lines that may be a Patient or RelatedPerson (checked again on the parsed resource).
PERSON_LINE_REGEX = r'"resourceType"\s*:\s*"(Patient|RelatedPerson)"'
_PERSON_TYPES = frozenset({"Patient", "RelatedPerson"})


def needs_patient_identifiers(config: AnonymizerConfig) -> bool:
    """True when some ``scrubText`` rule searches the patient's own values (``contextual`` is not false)."""
    return any(
        rule.method == "scrubtext" and rule.extra.get("contextual", True) is not False
        for rule in config.rules
    )


def _parse(line: str | None, max_line_bytes: int) -> dict[str, Any] | None:
    if not line or len(line) > max_line_bytes:  # too large: quarantined by the transform, not parsed here
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _number_and_key(max_line_bytes: int) -> Any:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from anonymizer.fhir.patient import linked_encounter_id, patient_id
        from anonymizer.spark.transform import LineCounter

        counter = LineCounter()
        for batch in batches:
            values = line_texts(batch.column("value"))
            paths = batch.column("source_path").to_pylist()
            starts = batch.column("split_start").to_pylist()
            numbers, keys, encounters = [], [], []
            for value, path, start in zip(values, paths, starts, strict=True):
                numbers.append(counter.next(path, start))
                resource = _parse(value, max_line_bytes)
                key = patient_id(resource) if resource is not None else None
                keys.append(key)
                # no patient link of its own: the patient of the encounter it points at (joined later)
                encounters.append(
                    linked_encounter_id(resource) if resource is not None and key is None else None
                )
            yield pa.RecordBatch.from_arrays(
                [batch.column("value"), batch.column("source_path"), batch.column("split_start"),
                 pa.array(numbers, pa.int64()), pa.array(keys, pa.string()), pa.array(encounters, pa.string())],
                schema=NUMBERED_SCHEMA,
            )  # fmt: skip

    return run


def numbered_lines(lines: DataFrame, max_line_bytes: int) -> DataFrame:
    """``lines`` (the reader's ``value``, ``source_path``, ``split_start``) plus ``line_in_split``, ``patient_key``
    and, for lines without a patient link, ``encounter_key`` (the Encounter they point at); must run on the
    reader's output directly, while lines are still in file order."""
    return lines.mapInArrow(_number_and_key(max_line_bytes), NUMBERED_DDL)


def _person_identifiers(max_line_bytes: int) -> Any:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from anonymizer.fhir.patient import patient_id
        from anonymizer.text.identifiers import collect_identifiers

        for batch in batches:
            keys, jsons = [], []
            for value in line_texts(batch.column("value")):
                resource = _parse(value, max_line_bytes)
                if resource is None or resource.get("resourceType") not in _PERSON_TYPES:
                    continue
                key = patient_id(resource)
                if key:
                    keys.append(key)
                    jsons.append(collect_identifiers([resource]).to_json())
            yield pa.RecordBatch.from_arrays(
                [pa.array(keys, pa.string()), pa.array(jsons, pa.string())], schema=IDS_SCHEMA
            )

    return run


def _merge_groups(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    from anonymizer.text.identifiers import PatientIdentifiers, merge

    for batch in batches:
        keys = batch.column("patient_key").to_pylist()
        parts = batch.column("parts").to_pylist()
        merged = [
            group[0] if len(group) == 1 else merge(*map(PatientIdentifiers.from_json, group)).to_json()
            for group in parts
        ]
        yield pa.RecordBatch.from_arrays(
            [pa.array(keys, pa.string()), pa.array(merged, pa.string())], schema=IDS_SCHEMA
        )


def identifiers_by_patient(lines: DataFrame, max_line_bytes: int) -> DataFrame:
    """One row per patient key: ``patient_key``, ``ids_json`` (from that patient's Patient and RelatedPerson lines)."""
    from pyspark.sql import functions as F

    per_line = lines.select("value").where(F.col("value").rlike(PERSON_LINE_REGEX))
    partial = per_line.mapInArrow(_person_identifiers(max_line_bytes), IDS_DDL)
    grouped = partial.groupBy("patient_key").agg(F.collect_list("ids_json").alias("parts"))
    return grouped.mapInArrow(_merge_groups, IDS_DDL)


def _encounter_patients(max_line_bytes: int) -> Any:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from anonymizer.fhir.patient import patient_id

        for batch in batches:
            ids, patients = [], []
            for value in line_texts(batch.column("value")):
                resource = _parse(value, max_line_bytes)
                if resource is None or resource.get("resourceType") != "Encounter":
                    continue
                rid, key = resource.get("id"), patient_id(resource)
                if isinstance(rid, str) and key:
                    ids.append(rid)
                    patients.append(key)
            yield pa.RecordBatch.from_arrays(
                [pa.array(ids, pa.string()), pa.array(patients, pa.string())], schema=ENCOUNTERS_SCHEMA
            )

    return run


def encounter_patients(lines: DataFrame, max_line_bytes: int) -> DataFrame:
    """One row per Encounter id: ``encounter_key``, ``encounter_patient`` (its subject's id).

    An id seen twice with different subjects keeps the greatest, deterministically; keys stay unique, so the
    left join that uses it never duplicates a line.
    """
    from pyspark.sql import functions as F

    per_line = lines.select("value").where(F.col("value").rlike(ENCOUNTER_LINE_REGEX))
    pairs = per_line.mapInArrow(_encounter_patients(max_line_bytes), ENCOUNTERS_DDL)
    return pairs.groupBy("encounter_key").agg(F.max("encounter_patient").alias("encounter_patient"))


def _unique_line_key() -> Any:
    """A key that cannot be a resource id (NUL prefix), unique per line: lines without a key to join on
    spread over the shuffle instead of all hashing to the null key's one partition."""
    from pyspark.sql import functions as F

    return F.concat(F.lit("\u0000"), F.xxhash64("source_path", "split_start", "line_in_split").cast("string"))


def with_patient_identifiers(lines: DataFrame, max_line_bytes: int) -> DataFrame:
    """The reader's lines, numbered, each with its patient's ``ids_json`` (null when none): the transform's input.

    A left join on unique keys: every input line is in the result exactly once.
    """
    from pyspark.sql import functions as F

    numbered = numbered_lines(lines, max_line_bytes)
    # A note linked only through context.encounter belongs to that encounter's patient.
    encounters = encounter_patients(lines, max_line_bytes).withColumnRenamed("encounter_key", "_enc_key")
    numbered = (
        numbered.withColumn("_enc_key", F.coalesce(F.col("encounter_key"), _unique_line_key()))
        .join(encounters, "_enc_key", "left")
        .withColumn("patient_key", F.coalesce(F.col("patient_key"), F.col("encounter_patient")))
    )
    # Lines without a patient (Practitioner, Organization, unparsable lines) match nothing.
    left = numbered.withColumn("_join_key", F.coalesce(F.col("patient_key"), _unique_line_key()))
    right = identifiers_by_patient(lines, max_line_bytes).withColumnRenamed("patient_key", "_join_key")
    return left.join(right, "_join_key", "left").select(
        "value", "source_path", "split_start", "line_in_split", "ids_json"
    )
