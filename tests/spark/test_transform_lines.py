"""The per-line classification of the transform, without Spark: an engine bug quarantines the line."""

from __future__ import annotations

from typing import Any

import pytest

from anonymizer.fhir.patient import patient_id
from anonymizer.spark import line_schema as ls
from anonymizer.spark.transform import TransformOptions, process_line


class _BrokenEngine:
    processing_errors = "raise"

    def anonymize_raising(self, resource: dict[str, Any], **_: Any) -> dict[str, Any]:
        raise KeyError(resource["name"][0]["family"])  # a bug whose message would carry PHI


def test_an_unexpected_engine_exception_quarantines_the_line_without_its_message() -> None:
    line = '{"resourceType":"Patient","id":"p","name":[{"family":"Sumiko254"}]}'
    row = process_line(
        line,
        _BrokenEngine(),
        "Patient.000.ndjson",
        TransformOptions(),
        frozenset({"Patient"}),
        patient_id,
        "f:1",
    )
    assert row["status"] == ls.STATUS_QUARANTINED
    assert row["reason"] == ls.ENGINE_ERROR
    assert "KeyError" in row["detail"] and "Sumiko" not in row["detail"]
    assert row["raw_line"] == line  # kept, in the quarantine only


@pytest.mark.parametrize("remembering", [False, True], ids=["shared_patient_id", "SharedPatientIds"])
def test_patient_key_of_shared_results_read_through_memoised_elements(remembering: bool) -> None:
    """With the engine's shared results, a memoised ``subject`` comes back as JSON text (``orjson.Fragment``):
    the patient key is still the hashed Patient id, for the first resource and for the ones from the memo (also
    when the decoded Fragments are remembered, as the transform does, and when they are forgotten at the limit)."""
    from datetime import date
    from pathlib import Path

    import orjson

    from anonymizer.engine import Anonymizer
    from anonymizer.spark.patient_key import SharedPatientIds, shared_patient_id
    from tests.strong_keys import DATE_KEY, ENCRYPT_KEY, HASH_KEY

    root = Path(__file__).parents[2]
    config = orjson.loads((root / "configs" / "hipaa-safe-harbor.json").read_bytes())
    config["parameters"].update(cryptoHashKey=HASH_KEY, dateShiftKey=DATE_KEY, encryptKey=ENCRYPT_KEY)
    engine = Anonymizer.from_config(config, as_of=date(2026, 1, 1), base_dir=root / "configs")
    hashed = {p: engine.anonymize_raising({"resourceType": "Patient", "id": p})["id"] for p in ("p1", "p2")}
    key_of = SharedPatientIds(limit=1) if remembering else shared_patient_id
    rows = []
    for n in range(6):
        resource = {
            "resourceType": "Observation",
            "id": f"o{n}",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": f"Patient/p{n % 2 + 1}"},
            "performer": [{"reference": "Practitioner/d1"}],
        }
        line = orjson.dumps(resource).decode()
        rows.append(
            process_line(
                line,
                engine,
                "Observation.ndjson",
                TransformOptions(),
                ls.r4_resource_types(),
                key_of,
                "f:1",
            )  # fmt: skip
        )
    assert all(r["status"] == ls.STATUS_OK for r in rows)
    assert [r["patient_key"] for r in rows] == [hashed[f"p{n % 2 + 1}"] for n in range(6)]
    assert all(
        orjson.loads(r["resource_json"])["subject"]["reference"] == f"Patient/{r['patient_key']}"
        for r in rows
    )


def _as_fragments(value: Any, depth: int) -> Any:
    """``value`` with its dicts at ``depth`` (0: the value itself) turned into ``orjson.Fragment``s of their JSON."""
    import orjson

    if depth == 0:
        return orjson.Fragment(orjson.dumps(value)) if isinstance(value, dict) else value
    if isinstance(value, list):
        return [_as_fragments(v, depth - 1) for v in value]
    return value


_REFERENCES: list[Any] = [
    {"reference": "Patient/p1"},
    {"reference": "https://x.org/fhir/Patient/p2/_history/3"},
    {"reference": "urn:uuid:u1"},
    {"reference": "urn:uuid:u2", "type": "Group"},
    {"reference": "Practitioner/d1"},
    {"display": "no reference"},
    {"reference": 7},
    [{"reference": "Patient/p3"}, {"reference": "Patient/p4"}],
    [{"reference": "Group/g1"}],
    [[{"reference": "Patient/p5"}]],
    [],
    "Patient/p6",
]


@pytest.mark.parametrize("element", ["subject", "patient", "beneficiary", "who", "for"])
def test_patient_key_of_fragments_is_patient_id_of_the_decoded_resource(element: str) -> None:
    """``SharedPatientIds`` gives what ``patient_id`` gives on the decoded resource, for every reference shape
    (lists, urn:uuid, which only some elements accept, non-patients), read as Fragments or not, remembered
    (the second read) or forgotten (``limit=1``), and after an element that names no patient."""
    from anonymizer.spark.patient_key import SharedPatientIds

    keys, forgetful = SharedPatientIds(), SharedPatientIds(limit=1)
    for ref in _REFERENCES:
        for before in ({}, {"patient": {"reference": "Practitioner/x"}}, {"subject": [{"display": "d"}]}):
            plain = {"resourceType": "Observation", "id": "o", **before, element: ref}
            expected = patient_id(plain)
            for depth in (0, 1):
                shared = {**plain, element: _as_fragments(ref, depth)}
                for key_of in (keys, keys, forgetful, forgetful):
                    assert key_of(shared) == expected, (element, ref, before, depth)
    patient = {"resourceType": "Patient", "id": "p", "subject": {"reference": "Patient/q"}}
    assert keys(patient) == "p" and keys({**patient, "id": 3}) is None


def test_line_counter_numbers_a_batch_as_next_does() -> None:
    """``LineCounter.numbers`` (a batch at once) continues each split's count across batches as ``next`` does."""
    from anonymizer.spark.transform import LineCounter

    batches = [
        (["a", "a", "b", "a", "a"], [0, 0, 0, 0, 9]),
        (["a", "b", "b", "a"], [9, 0, 0, 0]),
        ([], []),
        (["c"], [0]),
    ]
    by_batch, one_by_one = LineCounter(), LineCounter()
    for paths, starts in batches:
        assert by_batch.numbers(paths, starts) == [
            one_by_one.next(p, s) for p, s in zip(paths, starts, strict=True)
        ]


def test_the_transform_turns_the_cyclic_collector_off_while_it_runs_and_restores_it() -> None:
    """The lines are processed with the cyclic garbage collector off; it is on again after the last batch (and off
    after it when it was off before)."""
    import gc
    from collections import Counter

    import pyarrow as pa

    from anonymizer.spark.transform import make_partition_transform

    class _Identity:
        processing_errors = "raise"
        rule_hits: Counter[tuple[int, str]] = Counter()

        def anonymize_raising(self, resource: dict[str, Any], **_: Any) -> dict[str, Any]:
            assert not gc.isenabled()
            return resource

    line = '{"resourceType":"Patient","id":"p"}'
    batch = pa.RecordBatch.from_pydict(
        {"value": [line, ""], "source_path": ["/x/Patient.ndjson"] * 2, "split_start": [0, 0]}
    )
    transform = make_partition_transform(_Identity(), TransformOptions())
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            out = list(transform(iter([batch])))
            assert gc.isenabled() is enabled
            assert out[0].column("status").to_pylist() == [ls.STATUS_OK, ls.STATUS_QUARANTINED]
            assert out[0].column("id").to_pylist() == ["p", None]
            assert out[0].column("line_in_split").to_pylist() == [None, 2]
    finally:
        (gc.enable if was else gc.disable)()


def test_the_task_releases_its_engine_and_freed_memory_after_its_last_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reused worker stays alive, idle, after its task: the engine's plans and memos go at the task's end, and
    the allocators are asked to give the freed pages back, after every line was processed, not before."""
    from collections import Counter

    import pyarrow as pa

    import anonymizer.spark.transform as t

    events: list[str] = []

    class _Recording:
        processing_errors = "raise"
        rule_hits: Counter[tuple[int, str]] = Counter()

        def anonymize_raising(self, resource: dict[str, Any], **_: Any) -> dict[str, Any]:
            events.append("line")
            return resource

        def release_engine(self) -> None:
            events.append("release_engine")

    monkeypatch.setattr(t, "release_freed_memory", lambda: events.append("release_freed_memory"))
    lines = ['{"resourceType":"Patient","id":"a"}', '{"resourceType":"Patient","id":"b"}']
    batches = [
        pa.RecordBatch.from_pydict(
            {"value": [line], "source_path": ["/x/Patient.ndjson"], "split_start": [0]}
        )
        for line in lines
    ]
    out = t.make_partition_transform(_Recording(), TransformOptions())(iter(batches))
    assert [b.column("id").to_pylist() for b in out] == [["a"], ["b"]]
    assert events == ["line", "line", "release_engine", "release_freed_memory"]


def test_release_freed_memory_without_malloc_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off Linux (or on a C library without ``malloc_trim``) the trim step is skipped; the rest still runs."""
    import sys

    from anonymizer.spark import worker_memory

    worker_memory._malloc_trim.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert worker_memory._malloc_trim() is None
        worker_memory.release_freed_memory()
    finally:
        worker_memory._malloc_trim.cache_clear()


def test_release_freed_memory_trims_where_malloc_trim_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    import platform

    from anonymizer.spark import worker_memory

    if platform.libc_ver()[0] == "glibc":
        assert worker_memory._malloc_trim() is not None
    calls: list[int] = []
    monkeypatch.setattr(worker_memory, "_malloc_trim", lambda: calls.append)
    worker_memory.release_freed_memory()
    assert calls == [0]
