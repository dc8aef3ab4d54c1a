"""TextScrubber: contextual + pattern removal, placeholders, date policies, figures."""

from __future__ import annotations

import pickle

import pytest

from anonymizer.text import (
    DateParts,
    PatientIdentifiers,
    TextScrubber,
    collect_identifiers,
    shifted,
    year_only,
)


def test_planted_identifiers_all_removed(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    text = (
        "EVANGELINE BARTHOLOMEW (DOB March 3rd, 1961), seen with her husband Theodore Bartholomew.\n"
        "Mrs. Bartholomew's mother, Rosalind Quigley, called from 555 342 0001; patient phone (555) 342-8876,\n"
        "e-mail evie.bart@example.net, portal https://portal.example.org/u/4477. Lives at 4417 Quenton\n"
        "Crossing, Emporia, KS 66801; born in Wichita. MRN-4477120, SSN 999-72-4410, DL S99912345, IP 10.0.0.12."
    )
    result = scrubber.scrub(text, ids)
    low = result.text.lower()
    for _, value in ids.values():
        assert value.lower() not in low
    for leftover in (
        "evangeline",
        "bartholomew",
        "theodore",
        "rosalind",
        "quigley",
        "1961",
        "8876",
        "0001",
        "quenton",
        "emporia",
        "wichita",
        "66801",
        "4477",
        "10.0.0.12",
        "example",
    ):
        assert leftover not in low
    assert "KS" in result.text and "seen with her husband" in result.text
    assert result.counts_by_category["NAME"] >= 4
    for category in ("DATE", "PHONE", "EMAIL", "URL", "ADDRESS", "ZIP", "ID", "SSN", "IP"):
        assert result.counts_by_category.get(category, 0) >= 1, category


def test_name_split_across_line_break_and_upper_case(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    result = scrubber.scrub("Patient Jo\nBartholomew arrived. JO BARTHOLOMEW left.", ids)
    assert result.text == "Patient [NAME] arrived. [NAME] left."


def test_possessive_and_single_tokens(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    result = scrubber.scrub("Bartholomew's daughter; Evangeline agreed.", ids)
    assert result.text == "[NAME]'s daughter; [NAME] agreed."


def test_short_name_token_only_in_context(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    # "Jo" is too short to be removed on its own, but goes with a title or next to another name word
    result = scrubber.scrub("Jo said. Ms. Jo said. Jo Bartholomew said. A job.", ids)
    assert result.text == "Jo said. [NAME] said. [NAME] said. A job."


def test_common_words_survive_for_common_word_names() -> None:
    ids = collect_identifiers(
        [
            {
                "resourceType": "Patient",
                "name": [{"family": "White", "given": ["Grace", "May"]}],
                "address": [{"city": "Liberal", "state": "KS"}],
            }
        ]
    )
    text = (
        "White blood cell count normal. May repeat in 2 weeks. Grace period for liberal fluid intake. "
        "Patient is a nonhispanic white female."
    )
    assert TextScrubber().scrub(text, ids).text == text
    result = TextScrubber().scrub("Grace White from Liberal, KS; Mrs. White; GRACE MAY WHITE.", ids)
    assert result.text == "[NAME] from [ADDRESS], KS; [NAME]; [NAME]."


def test_eponym_surname_stays_as_disease_name() -> None:
    ids = collect_identifiers(
        [{"resourceType": "Patient", "name": [{"family": "Parkinson", "given": ["James"]}]}]
    )
    result = TextScrubber().scrub("James Parkinson has Parkinson disease; PARKINSON, JAMES agreed.", ids)
    assert result.text == "[NAME] has Parkinson disease; [NAME] agreed."


def test_no_false_removal_of_clinical_words(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    text = (
        "# History of Present Illness\n is a 60 year-old nonhispanic white female. Patient has a history of "
        "chronic kidney disease stage 3 (disorder), Parkinson disease, Hodgkin lymphoma.\n# Medications\n"
        "lisinopril 10 mg oral tablet; 1 ml epoetin alfa 4000 unt/ml injection [epogen]; BP 132/84 mmHg.\n"
        "Patient quit smoking at age 20. Follow-up in 3 months. Crossing the street caused the fall."
    )
    result = scrubber.scrub(text, ids)
    assert result.text == text
    assert result.chars_kept == result.chars_in == len(text)
    assert result.counts_by_category == {}


def test_ages_over_89_only(scrubber: TextScrubber) -> None:
    result = scrubber.scrub("A 93-year-old woman; her son is 62 years old; aged 93; 89 y/o.", None)
    assert result.text == "A [AGE]-year-old woman; her son is 62 years old; aged [AGE]; 89 y/o."


def test_date_policies() -> None:
    text = "Born March 3rd, 1961; seen 2019-04-02 and on May 5."
    assert TextScrubber(year_only()).scrub(text).text == "Born 1961; seen 2019 and on [DATE]."
    assert TextScrubber(year_only(min_year=1970)).scrub(text).text == "Born [DATE]; seen 2019 and on [DATE]."
    assert TextScrubber(shifted(-10)).scrub(text).text == "Born 1961-02-21; seen 2019-03-23 and on [DATE]."
    seen: list[tuple[str, DateParts]] = []

    def policy(date_text: str, parsed: DateParts) -> str:
        seen.append((date_text, parsed))
        return "<d>"

    assert TextScrubber(policy).scrub(text).text == "Born <d>; seen <d> and on <d>."
    assert seen[0] == ("March 3rd, 1961", DateParts(1961, 3, 3))


def test_options_patterns_contextual_placeholders(ids: PatientIdentifiers) -> None:
    text = "Evangeline called 555-000-1234 on 1961-03-03 and 2020-01-01."
    only_context = TextScrubber(patterns=False)
    # the birth date is the patient's own value: removed even with date patterns off
    assert only_context.scrub(text, ids).text == "[NAME] called 555-000-1234 on [DATE] and 2020-01-01."
    only_patterns = TextScrubber(contextual=False)
    assert only_patterns.scrub(text, ids).text == "Evangeline called [PHONE] on [DATE] and [DATE]."
    custom = TextScrubber.from_options({"patterns": ["PHONE"], "placeholders": {"name": "***"}})
    assert custom.scrub(text, ids).text == "*** called [PHONE] on [DATE] and 2020-01-01."
    with pytest.raises(ValueError):
        TextScrubber(patterns=["NOPE"])


def test_figures_and_repr(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    result = scrubber.scrub("Evangeline: 555-342-8876", ids)
    assert result.text == "[NAME]: [PHONE]"
    assert (result.chars_in, result.chars_kept) == (24, 2)
    assert result.counts_by_category == {"NAME": 1, "PHONE": 1}
    assert "Evangeline" not in repr(result) and "8876" not in repr(result)
    assert scrubber.scrub("", ids).kept_share == 1.0


def test_overlapping_finds_leave_no_fragment(scrubber: TextScrubber) -> None:
    ids = PatientIdentifiers(identifiers=("AB-555-342-8876-Z",))
    result = scrubber.scrub("code AB-555-342-8876-Z end", ids)
    assert result.text == "code [ID] end"


def test_scrubber_pickles_and_matcher_is_cached(ids: PatientIdentifiers) -> None:
    scrubber = pickle.loads(pickle.dumps(TextScrubber()))
    assert scrubber.scrub("Evangeline", ids).text == "[NAME]"
    for policy in (year_only(1950), shifted(3)):
        copy = pickle.loads(pickle.dumps(TextScrubber(policy)))
        assert copy.scrub("on 1961-03-03").text in ("on 1961", "on 1961-03-06")
    assert "3" not in repr(shifted(3))
    assert scrubber.scrub("Evangeline", PatientIdentifiers.from_json(ids.to_json())).text == "[NAME]"
