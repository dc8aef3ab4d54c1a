"""All clinical notes of the 10-patient Synthea sample, scrubbed with their own patient's identifiers."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import orjson

from anonymizer.text import TextScrubber, collect_identifiers
from anonymizer.text.formats import scrub_attachment_dict

_AGE_OVER_89 = re.compile(r"\b(?:9\d|1[0-4]\d)[ -]year", re.IGNORECASE)


def test_no_identifying_value_survives_in_any_note(sample_dir: Path) -> None:
    patients = {}
    for line in (sample_dir / "Patient.000.ndjson").read_bytes().splitlines():
        patient = orjson.loads(line)
        patients[patient["id"]] = collect_identifiers([patient])
    scrubber = TextScrubber()
    notes = chars_in = chars_kept = 0
    counts: dict[str, int] = {}
    for line in (sample_dir / "DocumentReference.000.ndjson").read_bytes().splitlines():
        doc = orjson.loads(line)
        ids = patients[doc["subject"]["reference"].split("/", 1)[1]]
        for content in doc["content"]:
            out, result = scrub_attachment_dict(scrubber, content["attachment"], ids)
            assert result is not None
            text = base64.b64decode(out["data"]).decode("utf-8").lower()
            for field, value in ids.values():
                assert value.lower() not in text, f"{field} survived in note {notes}"
            assert not _AGE_OVER_89.search(text)
            assert "hash" not in out and out.get("size", 0) in (0, len(base64.b64decode(out["data"])))
            notes += 1
            chars_in += result.chars_in
            chars_kept += result.chars_kept
            for category, n in result.counts_by_category.items():
                counts[category] = counts.get(category, 0) + n
    share = chars_kept / chars_in
    print(f"\n10-patient notes: {notes} notes, {chars_in} chars, kept {share:.2%}, replaced {counts}")
    assert notes == 1215
    # every note names its patient and starts with the visit date
    assert counts["NAME"] >= notes and counts["DATE"] >= notes
    assert 0.95 < share < 1.0
