"""The HIPAA Safe Harbor checklist: the 18 identifier categories of 45 CFR 164.514(b)(2)(i), each with
its status for this run.

Status, in order of precedence:

* ``found``   -- leaks (harvested values in the research zone) or precision violations in this category;
* ``removed`` -- values of this category were in the landing data and none is in the research zone;
  the rules whose path names this kind of element are listed;
* ``not_present`` -- the landing data hold no value of this category the audit knows how to harvest;
* ``not_checked`` -- the category cannot be proven by matching values (biometrics; dates under a
  date-shifting config), see the notes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from anonymizer.verify.identifier_checks import CHECK_CATEGORY as IDENTIFIER_CHECK_CATEGORY

if TYPE_CHECKING:
    from anonymizer.config.model import AnonymizerConfig

#: Letter -> (title, regex over rule paths that act on this kind of element).
CATEGORIES: dict[str, tuple[str, str]] = {
    "A": ("Names", r"humanname|name|display|narrative|div"),
    "B": ("Geographic subdivisions smaller than a state (street, city, county, ZIP)", r"address|postalcode|city|line|position|geolocation|location"),
    "C": ("Dates (except year) related to an individual; ages over 89", r"date|instant|period|birth|deceased|onset|effective|issued|authored|recorded|performed|occurrence|age"),
    "D": ("Telephone numbers", r"contactpoint|telecom"),
    "E": ("Fax numbers", r"contactpoint|telecom"),
    "F": ("Electronic mail addresses", r"contactpoint|telecom"),
    "G": ("Social Security numbers", r"identifier"),
    "H": ("Medical record numbers", r"identifier"),
    "I": ("Health plan beneficiary numbers", r"identifier|subscriberid|coverage"),
    "J": ("Account numbers", r"identifier|account"),
    "K": ("Certificate/license numbers", r"identifier|qualification"),
    "L": ("Vehicle identifiers and serial numbers, incl. license plates", r"identifier|narrative|annotation|string|markdown"),
    "M": ("Device identifiers and serial numbers", r"device|udi|serialnumber|lotnumber|identifier"),
    "N": ("Web URLs", r"url|uri|attachment|contactpoint|telecom"),
    "O": ("IP addresses", r"network|address|uri"),
    "P": ("Biometric identifiers (finger and voice prints)", r"attachment|base64binary|media"),
    "Q": ("Full-face photographs and comparable images", r"attachment|base64binary|photo|media"),
    "R": ("Any other unique identifying number, characteristic or code", r"\bid\b|identifier|reference|uuid"),
}  # fmt: skip

# Precision-check codes -> category they prove a failure of.
_CHECK_CATEGORY = {
    "date_precision": "C",
    "date_in_text": "C",
    "age_over_89": "C",
    "birth_year_over_89": "C",
    "zip_not_3_digits": "B",
    "zip_restricted_prefix": "B",
    "zip_present": "B",
    "image": "Q",
    **IDENTIFIER_CHECK_CATEGORY,
}
_NOT_MATCHABLE = {
    "P": "biometric templates have no textual form to match; images/recordings are reported under Q",
    "L": "no FHIR element carries vehicle identifiers; only free text could, which is searched for all other categories",
    "O": "IP addresses are harvested from no FHIR R4 element this audit reads; none was found",
}


def covering_rules(config: AnonymizerConfig, letter: str) -> list[dict[str, Any]]:
    """Rules (index, method, path) whose path names an element of this category (by name, not by type)."""
    pattern = re.compile(CATEGORIES[letter][1], re.I)
    out = []
    for rule in config.rules:
        path = rule.path or rule.json_path or ""
        if rule.method != "keep" and pattern.search(path):
            out.append({"rule_index": rule.index, "method": rule.method, "path": path})
    # Type-wide rules (nodesByType) first: they are the ones that cover the category everywhere.
    return sorted(out, key=lambda r: ("nodesByType" not in r["path"], r["rule_index"]))


def build_checklist(
    config: AnonymizerConfig,
    harvested: dict[str, dict[str, int]],
    findings: list[dict[str, Any]],
    violations: list[dict[str, Any]],
    *,
    dates_audited: bool = True,
) -> list[dict[str, Any]]:
    """One entry per category A..R with status, counts, rules and a one-line explanation."""
    leaks: dict[str, int] = {}
    for f in findings:
        if not f["exempt"]:
            leaks[f["category"]] = leaks.get(f["category"], 0) + f["hits"]
    broken: dict[str, int] = {}
    for v in violations:
        letter = _CHECK_CATEGORY.get(v["check"])
        if letter:
            broken[letter] = broken.get(letter, 0) + v["count"]
    items = []
    for letter, (title, _) in CATEGORIES.items():
        present = sum(harvested.get(letter, {}).values())
        rules = covering_rules(config, letter)
        n_leaks, n_broken = leaks.get(letter, 0), broken.get(letter, 0)
        if n_leaks or n_broken:
            status = "found"
            detail = f"found: {_plural(n_leaks, 'leak')}, {_plural(n_broken, 'precision violation')}"
        elif letter == "C" and not dates_audited:
            status = "not_checked"
            detail = "the config shifts or keeps dates (not a Safe Harbor profile): dates were not searched"
        elif present:
            status = "removed"
            detail = f"{_plural(present, 'distinct value')} in the source; none found in the research zone"
        elif letter in _NOT_MATCHABLE:
            status = "not_checked" if letter == "P" else "not_present"
            detail = _NOT_MATCHABLE[letter]
        else:
            status = "not_present"
            detail = "no value of this category in the source data"
        if status == "removed" and not rules:
            detail += " (no rule names this element; removed by a broader rule or absent after processing)"
        items.append({"category": letter, "title": title, "status": status, "leaks": n_leaks,
                      "precision_violations": n_broken, "harvested_values": present,
                      "harvested_by_label": harvested.get(letter, {}), "rules": rules, "detail": detail})  # fmt: skip
    return items


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
