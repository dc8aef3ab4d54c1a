"""Issue #16 point 1: DICOM UIDs (study, series, instance) are pseudonymised into valid UIDs that still join."""

from __future__ import annotations

import json
import re

import pytest

from anonymizer.methods.crypto_hash import hash_dicom_uid
from tests.privacy.profiles import KEEP_NOTES, STRICT, anonymize

#: DICOM PS3.5 9.1: components of digits without leading zeros, at most 64 characters.
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
STUDY_UID = "1.2.840.99999999.56191522.1588766265703"
SERIES_UID = "1.2.840.99999999.1.29099167.1588766265703"
INSTANCE_UID = "1.2.840.99999999.1.1.61130375.1588766265703"


def _study(rid: str) -> dict:
    return {
        "resourceType": "ImagingStudy",
        "id": rid,
        "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": f"urn:oid:{STUDY_UID}"}],
        "status": "available",
        "subject": {"reference": "Patient/p1"},
        "series": [
            {
                "uid": SERIES_UID,
                "modality": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "DX"},
                "instance": [
                    {
                        "uid": INSTANCE_UID,
                        "sopClass": {"system": "urn:ietf:rfc:3986", "code": "1.2.840.10008.5.1.4.1.1.1.1"},
                    }
                ],
            }
        ],
    }


@pytest.mark.parametrize("profile", [STRICT, KEEP_NOTES])
def test_no_dicom_uid_survives_and_pseudonyms_join(profile: str) -> None:
    first, second = anonymize(profile, _study("a")), anonymize(profile, _study("b"))
    text = json.dumps(first)
    for uid in (STUDY_UID, SERIES_UID, INSTANCE_UID):
        assert uid not in text
    series, instance = first["series"][0]["uid"], first["series"][0]["instance"][0]["uid"]
    study = first["identifier"][0]["value"]
    assert study.startswith("urn:oid:2.25.")
    for uid in (study.removeprefix("urn:oid:"), series, instance):
        assert uid.startswith("2.25.") and _UID.match(uid) and len(uid) <= 64
    assert len({study, series, instance}) == 3
    # the same source UID in another resource gives the same pseudonym: study/series/instance joins survive
    assert second["series"][0]["uid"] == series and second["identifier"][0]["value"] == study
    # the SOP class is a standard code (what kind of image), not an instance identifier: kept
    assert first["series"][0]["instance"][0]["sopClass"]["code"] == "1.2.840.10008.5.1.4.1.1.1.1"


def test_uid_pseudonym_is_keyed() -> None:
    key_a, key_b = "a1" * 32, "b2" * 32
    assert hash_dicom_uid(SERIES_UID, key_a) != hash_dicom_uid(SERIES_UID, key_b)
    assert hash_dicom_uid(SERIES_UID, key_a) == hash_dicom_uid(SERIES_UID, key_a)
    assert hash_dicom_uid("", key_a) == ""
