"""Issue #16 point 2: ZIPs stored as numbers lost their leading zeros; normalise to five digits before ZIP3."""

from __future__ import annotations

import pytest

from anonymizer.methods.redact import normalize_zip, redact_postal_code
from tests.privacy.profiles import STRICT, anonymize

RESTRICTED = ("036", "059", "102")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("3601", "00000"),  # 03601: restricted ZIP3 036
        ("5901", "00000"),  # 05901: restricted ZIP3 059
        ("2215", "02200"),  # 02215 -> ZIP3 022, not the four real digits "2210"
        ("2215-1234", "02200-0000"),
        ("22151234", "022000000"),  # ZIP+4 as a number
        ("501", "00500"),  # 00501 (Holtsville NY)
        ("02215", "02200"),
        ("10214", "00000"),
    ],
)
def test_zip_is_normalised_before_zip3_and_restricted_list(given: str, expected: str) -> None:
    assert redact_postal_code(given, partial=True, restricted=RESTRICTED)[0] == expected


def test_normalize_zip_leaves_other_postcodes_alone() -> None:
    assert normalize_zip("SW1A 1AA") == "SW1A 1AA"
    assert normalize_zip("K1A0B1") == "K1A0B1"
    assert normalize_zip("12") == "12"


@pytest.mark.parametrize("postal_code", ["3601", 3601, "2215", 2215])
def test_strict_profile_never_shows_a_four_digit_zip(postal_code: object) -> None:
    org = {"resourceType": "Practitioner", "id": "x", "address": [{"postalCode": postal_code, "state": "MA"}]}
    out = anonymize(STRICT, org)
    written = out["address"][0]["postalCode"]
    assert isinstance(written, str) and len(written) == 5 and written.endswith("00")
    assert written in ("00000", "02200")
