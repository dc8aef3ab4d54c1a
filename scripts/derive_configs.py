"""Derive configs/hipaa-safe-harbor.json, hipaa-safe-harbor-keep-notes.json and limited-dataset.json from
Microsoft's R4 sample.

Run: python scripts/derive_configs.py   (rewrites the three files; review the diff)
Deriving instead of hand-copying keeps Microsoft's ~180 resource-specific free-text rules in step with the sample.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "configs" / "ms-r4-configuration-sample.json"
RESTRICTED_ZIP3_UNION = [
    "036", "059", "063", "102", "203", "205", "369", "556", "692", "790",
    "821", "823", "830", "831", "878", "879", "884", "890", "893",
]  # fmt: skip
KEY_REFERENCES = {
    "dateShiftKey": "env:FHIR_ANONYMIZER_DATE_SHIFT_KEY",
    "cryptoHashKey": "env:FHIR_ANONYMIZER_CRYPTO_HASH_KEY",
    "encryptKey": "env:FHIR_ANONYMIZER_ENCRYPT_KEY",
}
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
CODE_KEEPS = [
    {"path": "nodesByType('Coding').system", "method": "keep"},
    {"path": "nodesByType('Coding').code", "method": "keep"},
    {"path": "nodesByType('Coding').display", "method": "keep"},
    {"path": "nodesByType('Coding').version", "method": "keep"},
]
RACE_ETHNICITY_KEEPS = [
    {"path": f"Patient.extension('{US_CORE}us-core-race')", "method": "keep"},
    {"path": f"Patient.extension('{US_CORE}us-core-ethnicity')", "method": "keep"},
    {"path": f"Patient.extension('{US_CORE}us-core-birthsex')", "method": "keep"},
]
#: Ages over 89 written as quantities (Observation value or component in years or months, UCUM code or unit
#: text) lose their value; the unit stays. One rule, placed before any other non-keep rule, so the where() guard
#: reads the values as written and the profile still compiles (docs/engine.md, "Two engines").
_AGE_OVER_89 = (
    "where(((code = 'a' or unit = 'a' or unit = 'yr' or unit = 'year' or unit = 'years') and value >= 90)"
    " or ((code = 'mo' or unit = 'mo' or unit = 'month' or unit = 'months') and value >= 1080))"
)
AGE_QUANTITY_REDACTS = [
    {
        "path": f"Observation.value.ofType(Quantity).{_AGE_OVER_89}.value"
        f" | Observation.component.value.ofType(Quantity).{_AGE_OVER_89}.value",
        "method": "redact",
    },
]
#: Identifying elements Microsoft's sample misses (found by our verify leak audit on the Synthea samples).
EXTRA_REDACTS = [
    {"path": "Device.lotNumber", "method": "redact"},
    {"path": "Device.udiCarrier", "method": "redact"},
    # DICOM Study/Series/SOP Instance UIDs name one acquisition in an image archive: keyed UID pseudonyms
    # (hashFormat dicomUid, our extension) so study, series and instance still join (docs/privacy-review.md).
    {"path": "ImagingStudy.identifier.value", "method": "cryptoHash", "hashFormat": "dicomUid"},
    {"path": "ImagingStudy.series.uid", "method": "cryptoHash", "hashFormat": "dicomUid"},
    {"path": "ImagingStudy.series.instance.uid", "method": "cryptoHash", "hashFormat": "dicomUid"},
    # The sample keeps Organization.identifier whole, which keeps the source id in identifier.assigner.reference.
    {"path": "Organization.identifier.assigner", "method": "redact"},
    {"path": "OrganizationAffiliation.identifier.assigner", "method": "redact"},
]
#: Safe Harbor profiles only: the sample keeps Organization.address whole; its ZIP is generalised like the
#: patients' (ZIP3, restricted areas zeroed, lost leading zeros restored): patients are treated near home, and
#: exports store ZIPs as numbers ("1020"), which would publish four real digits.
ORGANIZATION_ZIP3 = [{"path": "Organization.address.postalCode", "method": "redact"}]
#: Free text Microsoft's sample misses (found by the systematic review of every R4 string/markdown element,
#: docs/privacy-review.md). Clinical ones are scrubbed instead by the keep-notes profile.
CLINICAL_TEXT = (
    "DocumentReference.description", "DocumentManifest.description", "nodesByType('Dosage').text",
    "nodesByType('Dosage').patientInstruction",
)  # fmt: skip
ADMINISTRATIVE_TEXT = (
    "Composition.title", "Immunization.lotNumber", "Invoice.paymentTerms", "AuditEvent.outcomeDesc", "Endpoint.header",
    "Subscription.criteria", "Subscription.reason", "Subscription.error", "MolecularSequence.observedSeq",
)  # fmt: skip
#: Sample rules that remove every Observation value; only the free-text form can identify anyone.
FREE_TEXT_ONLY = ("Observation.value", "Observation.component.value")
#: keep-notes profile: sample rule (as the strict profile writes it) -> the text elements scrubbed instead.
#: Each scrubText rule goes right before that rule (first rule wins per element), so it reaches exactly the
#: elements the strict profile would delete as free text. A rule whose path is itself listed is replaced; for a
#: container (Annotation, base64Binary, payload) the redaction stays after it and removes the rest (author, time,
#: binaries). Only clinical free text is listed: names, titles, Reference.display (clinician and organisation
#: names, which contextual detection cannot know), financial and administrative text stay redacted.
SCRUB_INSTEAD: dict[str, tuple[str, ...]] = {
    **{path: (path,) for path in (
        "Task.description", "Appointment.description", "Appointment.comment", "Appointment.patientInstruction",
        "AppointmentResponse.comment", "AllergyIntolerance.reaction.description", "ClinicalImpression.description",
        "ClinicalImpression.summary", "ClinicalImpression.finding.basis", "DetectedIssue.detail",
        "Observation.value.ofType(string)", "Observation.component.value.ofType(string)",
        "DiagnosticReport.media.comment", "DiagnosticReport.conclusion", "Specimen.processing.description",
        "Specimen.container.description", "BodyStructure.description", "ImagingStudy.description",
        "ImagingStudy.series.description", "MedicationAdministration.dosage.text",
        "ImmunizationEvaluation.description", "ImmunizationRecommendation.recommendation.description",
        "CarePlan.description", "CarePlan.activity.detail.description", "Goal.statusReason",
        "ServiceRequest.patientInstruction", "NutritionOrder.oralDiet.instruction",
        "NutritionOrder.supplement.instruction", "NutritionOrder.enteralFormula.administrationInstruction",
        "RiskAssessment.prediction.rationale", "RiskAssessment.mitigation", "RequestGroup.action.description",
        "nodesByType('CodeableConcept').text",
        "nodesByType('Narrative')",  # the whole Narrative: div scrubbed, status (a code, required) kept
    )},
    "Communication.payload": ("Communication.payload.content.ofType(string)",),
    "CommunicationRequest.payload": ("CommunicationRequest.payload.content.ofType(string)",),
    "nodesByType('Annotation')": ("nodesByType('Annotation').text",),
    # text/* notes (DocumentReference.content, DiagnosticReport.presentedForm, Media.content); any other
    # content type is removed by scrubText itself, and base64Binary outside an Attachment by the rule after.
    "nodesByType('base64Binary')": ("nodesByType('Attachment').data",),
}  # fmt: skip
DATE_TYPES = ("nodesByType('date')", "nodesByType('dateTime')", "nodesByType('instant')")
CODE_REDACTS = ("nodesByType('Coding').code", "nodesByType('Coding').display")


#: Typos in Microsoft's sample: the rule can never match (``fhir-anonymizer check-config`` reports it as dead).
CORRECTED_PATHS = {"HealthcareService.notAvaliable.description": "HealthcareService.notAvailable.description"}


def sample_rules() -> list[dict]:
    """The sample's rules with the typos corrected."""
    rules = json.loads(SAMPLE.read_text(encoding="utf-8-sig"))["fhirPathRules"]
    return [{**r, "path": CORRECTED_PATHS.get(r["path"], r["path"])} for r in rules]


def without_repeats(rules: list[dict]) -> list[dict]:
    """Drop a rule that repeats an earlier one exactly: it can never apply (first rule wins)."""
    out: list[dict] = []
    for rule in rules:
        if rule not in out:
            out.append(rule)
    return out


def safe_harbor(*, keep_notes: bool = False) -> dict:
    """The strict Safe Harbor profile; ``keep_notes`` scrubs clinical free text (``SCRUB_INSTEAD``) instead."""
    text_method = "scrubText" if keep_notes else "redact"
    rules: list[dict] = (
        RACE_ETHNICITY_KEEPS + CODE_KEEPS + AGE_QUANTITY_REDACTS + EXTRA_REDACTS + ORGANIZATION_ZIP3
    )
    rules += [{"path": path, "method": text_method} for path in CLINICAL_TEXT]
    rules += [{"path": path, "method": "redact"} for path in ADMINISTRATIVE_TEXT]
    unused = set(SCRUB_INSTEAD) if keep_notes else set()
    for rule in sample_rules():
        if rule["path"] in CODE_REDACTS or rule["method"].lower() == "perturb":
            continue  # codes are kept above; the only random rule is replaced by redaction (next rule)
        if rule["path"] in DATE_TYPES:
            rule = {"path": rule["path"], "method": "redact"}  # year only, or nothing when age > 89
        if rule["path"] in FREE_TEXT_ONLY:
            rule = {"path": f"{rule['path']}.ofType(string)", "method": "redact"}  # measurements stay
        if rule["path"] == "nodesByType('Reference').reference":
            rule = {"path": rule["path"], "method": "cryptoHash"}
        scrub = SCRUB_INSTEAD.get(rule["path"], ()) if keep_notes else ()
        unused.discard(rule["path"])
        rules.extend({"path": path, "method": "scrubText"} for path in scrub)
        if rule["path"] not in scrub:
            rules.append(rule)
    if unused:
        raise SystemExit(f"SCRUB_INSTEAD names rules the sample no longer has: {sorted(unused)}")
    return {
        "description": KEEP_NOTES_DESCRIPTION if keep_notes else STRICT_DESCRIPTION,
        "fhirVersion": "R4",
        "processingErrors": "raise",
        "fhirPathRules": without_repeats(rules),
        "parameters": {
            **KEY_REFERENCES,
            "dateShiftScope": "resource",
            "enablePartialAgesForRedact": True,
            "enablePartialDatesForRedact": True,
            "enablePartialZipCodesForRedact": True,
            "restrictedZipCodeTabulationAreas": RESTRICTED_ZIP3_UNION,
            "referenceHashing": "joinable",
        },
    }


STRICT_DESCRIPTION = (
    "HIPAA Safe Harbor (45 CFR 164.514(b)(2)), strict profile derived from Microsoft's R4 sample. "
    "Removes or generalises all 18 identifier categories: names, addresses below the state (ZIP kept as ZIP3, "
    "restricted ZIP3 zeroed using the union of the 2000-census list and Microsoft's list), every date element "
    "except the year (no date shift: dates are generalised, and removed when they imply an age over 89), ages "
    "over 89, telecom, e-mail, URLs, identifier values (SSN, MRN, licences, passports, device serials), photos "
    "and attachments, and all free text (narratives, annotations, CodeableConcept.text, Reference.display). "
    "Keeps clinical codes (Coding.system/code/display/version) and US Core race, ethnicity and birth sex so "
    "research stays possible, and Observation values other than free text (quantities, codes); resource ids and references are HMAC-hashed in the joinable form so tables still "
    "join. All other extensions are removed."
)
KEEP_NOTES_DESCRIPTION = (
    "HIPAA Safe Harbor (45 CFR 164.514(b)(2)), keep-notes profile: exactly hipaa-safe-harbor.json (derived from "
    "Microsoft's R4 sample; same treatment of names, addresses, dates, ages over 89, telecom, identifiers, photos, "
    "codes, race/ethnicity and hashed ids) except that clinical free text is scrubbed instead of deleted, so notes "
    "stay usable for research: narratives, Annotation text (notes), CodeableConcept.text, text/* attachments "
    "(DocumentReference notes, DiagnosticReport.presentedForm), Observation string values, and the clinical "
    "descriptions, comments, conclusions and instructions Microsoft's sample deletes. The scrubText method "
    "(our extension, docs/text-scrubbing.md) replaces with placeholders the identifiers it finds in the text: "
    "the patient's own names, relatives, telecom, address parts, identifiers and birth date (from the patient's "
    "raw Patient and RelatedPerson resources of the same run), and by pattern dates, phone and fax numbers, "
    "e-mails, URLs, IP addresses, SSNs, record and account numbers, ZIP codes, street addresses and ages over 89. "
    "Dates in text keep the year only, and no year that implies an age over 89. Still removed: non-text "
    "attachments, Reference.display, names and titles, financial and administrative free text, annotation authors "
    "and times. Detection has no NER: names not in the record (clinicians, visitors) can survive in text; "
    "use hipaa-safe-harbor.json where that risk is not acceptable."
)


#: Explicit date-choice redactions of the sample that a limited data set shifts instead.
SHIFT_INSTEAD = (
    "AllergyIntolerance.onset", "Condition.onset", "Condition.abatement", "Procedure.performed",
    "Immunization.occurrence", "CarePlan.activity.detail.scheduled",
)  # fmt: skip
LDS_ADDRESS_KEEPS = [
    {"path": "nodesByType('Address').city", "method": "keep"},
    {"path": "nodesByType('Address').postalCode", "method": "keep"},
]


def limited_dataset() -> dict:
    rules: list[dict] = RACE_ETHNICITY_KEEPS + CODE_KEEPS + LDS_ADDRESS_KEEPS + EXTRA_REDACTS
    rules += [{"path": path, "method": "redact"} for path in CLINICAL_TEXT + ADMINISTRATIVE_TEXT]
    for rule in sample_rules():
        if rule["path"] in CODE_REDACTS:
            continue
        if rule["path"] in FREE_TEXT_ONLY:
            rule = {"path": f"{rule['path']}.ofType(string)", "method": "redact"}
        if rule["path"] in SHIFT_INSTEAD:
            # Shift only the date forms; string/Age/Range forms still reach the sample's redact rule.
            shift = f"{rule['path']}.ofType(dateTime) | {rule['path']}.ofType(Period)"
            rules.append({"path": shift, "method": "dateShift"})
        if rule["path"] == "nodesByType('Reference').reference":
            rule = {"path": rule["path"], "method": "cryptoHash"}
        rules.append(rule)
    return {
        "description": (
            "HIPAA limited data set (45 CFR 164.514(e)), for research under a data use agreement; derived from "
            "Microsoft's R4 sample. Removes the direct identifiers (names, street address lines, telecom, e-mail, URLs, "
            "identifier values, device serials, photos, free text) and keeps what a limited data set may keep: dates, "
            "shifted by a per-patient offset (dateShiftScope patient, so every interval within a patient's timeline stays "
            "true), city, state and 5-digit ZIP, ages, and clinical codes. Ids and references are HMAC-hashed in the "
            "joinable form."
        ),
        "fhirVersion": "R4",
        "processingErrors": "raise",
        "fhirPathRules": without_repeats(rules),
        "parameters": {
            **KEY_REFERENCES,
            "dateShiftScope": "patient",
            "enablePartialAgesForRedact": True,
            "enablePartialDatesForRedact": True,
            "enablePartialZipCodesForRedact": False,
            "referenceHashing": "joinable",
        },
    }


def main() -> None:
    for name, config in (
        ("hipaa-safe-harbor.json", safe_harbor()),
        ("hipaa-safe-harbor-keep-notes.json", safe_harbor(keep_notes=True)),
        ("limited-dataset.json", limited_dataset()),
    ):
        (ROOT / "configs" / name).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        print(f"wrote configs/{name}: {len(config['fhirPathRules'])} rules")


if __name__ == "__main__":
    main()
