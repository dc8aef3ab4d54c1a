"""Issue #16 point 3: a year-only date implying an age over 89, and age quantities over 89."""

from __future__ import annotations

from datetime import date

import pytest

from anonymizer.methods.redact import redact_date
from tests.privacy.profiles import AS_OF, KEEP_NOTES, STRICT, anonymize


def test_year_only_output_is_removed_when_the_years_alone_exceed_89() -> None:
    as_of = date(2026, 12, 2)
    # born 1936-12-20: 89 on as_of by the full date, but the written year 1936 reads as 90
    assert redact_date("1936-12-20", "date", partial=True, as_of=as_of) is None
    assert redact_date("1936", "date", partial=True, as_of=as_of) is None
    assert redact_date("1937-01-01", "date", partial=True, as_of=as_of) == "1937"


@pytest.mark.parametrize("profile", [STRICT, KEEP_NOTES])
def test_patient_born_at_the_edge_keeps_no_year(profile: str) -> None:
    assert date(2026, 12, 2) == AS_OF
    out = anonymize(profile, {"resourceType": "Patient", "id": "p", "birthDate": "1936-12-20"})
    assert "birthDate" not in out


def _age_observation(value: float, unit_code: str = "a") -> dict:
    quantity = {"value": value, "unit": unit_code, "system": "http://unitsofmeasure.org", "code": unit_code}
    return {
        "resourceType": "Observation",
        "id": "o",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "30525-0", "display": "Age"}]},
        "valueQuantity": quantity,
        "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "30525-0"}]},
                       "valueQuantity": dict(quantity)}],
    }  # fmt: skip


@pytest.mark.parametrize("profile", [STRICT, KEEP_NOTES])
@pytest.mark.parametrize(("age", "unit"), [(96, "a"), (90, "a"), (1200, "mo")])
def test_age_quantities_over_89_lose_their_value(profile: str, age: float, unit: str) -> None:
    out = anonymize(profile, _age_observation(age, unit))
    assert "value" not in out["valueQuantity"]
    assert "value" not in out["component"][0]["valueQuantity"]
    assert out["valueQuantity"]["code"] == unit  # the unit stays: an age, withheld


@pytest.mark.parametrize("profile", [STRICT, KEEP_NOTES])
def test_age_quantities_up_to_89_and_other_quantities_stay(profile: str) -> None:
    assert anonymize(profile, _age_observation(89))["valueQuantity"]["value"] == 89
    weight = _age_observation(96, "kg")
    assert anonymize(profile, weight)["valueQuantity"]["value"] == 96
