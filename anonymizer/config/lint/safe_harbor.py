"""The 18 Safe Harbor categories and the R4 elements that can carry each (the research notes' table, §5.7 of
``docs/bulk-export-and-safe-harbor.md`` in the shared reference material), and which rules cover them.

A location is a primitive FHIR type (``dateTime``: every element of that type) or an element ``Type.name``
(``Reference.display``: that element wherever its parent is of that type; ``Resource.id``: every resource's id),
counted where it holds a primitive value (the value that carries the identifier; ``Extension.value`` as
``valueString``, not as ``valueAddress``, whose parts are locations of their own). A location is *covered* when at
every position of it the owning rule (first rule wins) is one that changes the value (any method but ``keep``).
Positions below a primitive (extensions of a primitive value) are not counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from anonymizer.config.lint.elements import ElementIndex, Node
from anonymizer.config.lint.ownership import NO_OWNER, Ownership
from anonymizer.fhir.model import PRIMITIVE_TYPES

#: Three-digit ZIP areas of 20,000 people or fewer, which Safe Harbor publishes as ``000``: the union of the HHS
#: 2000-census list and Microsoft's sample list (docs/bulk-export-and-safe-harbor.md §5.3). The shipped configs
#: list them in ``restrictedZipCodeTabulationAreas``; ``verify`` checks them when a config lists none.
RESTRICTED_ZIP3 = (
    "036", "059", "063", "102", "203", "205", "369", "556", "692", "790",
    "821", "823", "830", "831", "878", "879", "884", "890", "893",
)  # fmt: skip
_TEXT = ("Narrative.div", "Annotation.text", "Attachment.data", "Attachment.title", "Reference.display")
_IDS = ("Identifier.value",)
_ADDRESS = ("Address.line", "Address.city", "Address.district", "Address.postalCode", "Address.text")

#: Letter -> (title, locations). Locations are primitive elements: the values that carry the identifier.
CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "A": ("Names", ("HumanName.family", "HumanName.given", "HumanName.text", "Extension.value",
                    "Communication.payload.content", "QuestionnaireResponse.item.answer.value", *_TEXT)),
    "B": ("Geographic subdivisions smaller than a state", (*_ADDRESS, "Location.position.latitude",
          "Location.position.longitude", "Extension.value")),
    "C": ("Dates (except year); ages over 89", ("date", "dateTime", "instant", "Age.value")),
    "D": ("Telephone numbers", ("ContactPoint.value",)),
    "E": ("Fax numbers", ("ContactPoint.value",)),
    "F": ("Electronic mail addresses", ("ContactPoint.value",)),
    "G": ("Social Security numbers", _IDS),
    "H": ("Medical record numbers", _IDS),
    "I": ("Health plan beneficiary numbers", (*_IDS, "Coverage.subscriberId", "Coverage.dependent",
          "Coverage.class.value", "Claim.insurance.preAuthRef", "ExplanationOfBenefit.insurance.preAuthRef")),
    "J": ("Account numbers", _IDS),
    "K": ("Certificate/license numbers", _IDS),
    "L": ("Vehicle identifiers (free text only)", ("Narrative.div", "Annotation.text")),
    "M": ("Device identifiers and serial numbers", (*_IDS, "Device.udiCarrier.deviceIdentifier",
          "Device.udiCarrier.carrierHRF", "Device.udiCarrier.carrierAIDC", "Device.serialNumber",
          "Device.lotNumber", "Device.distinctIdentifier")),
    "N": ("Web URLs", ("ContactPoint.value", "Attachment.url", "Endpoint.address", "Device.url",
          "Reference.reference", "Meta.source", "Resource.implicitRules")),
    "O": ("IP addresses", ("AuditEvent.agent.network.address", "Device.url")),
    "P": ("Biometric identifiers", ("Attachment.data", "Binary.data")),
    "Q": ("Full-face photographs", ("Attachment.data", "Attachment.url", "Binary.data")),
    "R": ("Other unique identifying numbers or codes", ("Resource.id", "Reference.reference", "Identifier.value",
          "ImagingStudy.series.uid", "ImagingStudy.series.instance.uid")),
}  # fmt: skip


def all_locations() -> tuple[str, ...]:
    """Every location named by some category (each once)."""
    return tuple(dict.fromkeys(loc for _, locs in CATEGORIES.values() for loc in locs))


def location_matcher(index: ElementIndex) -> Callable[[Node], list[str]]:
    """``node -> locations it is a position of``, for :func:`anonymizer.config.lint.ownership.analyse`."""
    by_type: dict[str, str] = {}
    by_element: dict[str, list[tuple[str, str]]] = {}
    for loc in all_locations():
        if "." in loc:
            owner, _, name = loc.rpartition(".")
            by_element.setdefault(name, []).append((owner, loc))
        else:
            by_type[loc] = loc
    model = index.model

    def match(node: Node) -> list[str]:
        if node.fhir_type not in PRIMITIVE_TYPES:
            return []
        out = [by_type[node.fhir_type]] if node.fhir_type in by_type else []
        for owner, loc in by_element.get(node.name, ()):
            parent = node.element.rpartition(".")[0]
            if parent == owner or model.is_a(parent, owner):
                out.append(loc)
        return out

    return match


@dataclass(frozen=True)
class Gap:
    """A location where some position is not changed by any rule (or is kept by a ``keep`` rule)."""

    location: str
    example: str
    kept_by: int | None  # the keep rule's index, or None when no rule applies


@dataclass(frozen=True)
class CategoryCoverage:
    """One row of the coverage table."""

    letter: str
    title: str
    rules: tuple[int, ...]  # rules (indices) that change positions of this category's locations
    conditional: tuple[int, ...]  # rules that may, depending on values (where, extension url)
    gaps: tuple[Gap, ...]


def coverage(ownership: Ownership, methods: dict[int, str]) -> list[CategoryCoverage]:
    """The coverage table from a search run with :func:`location_matcher`."""
    rows = []
    for letter, (title, locations) in CATEGORIES.items():
        rules: set[int] = set()
        conditional: set[int] = set()
        gaps: list[Gap] = []
        for loc in locations:
            owners = ownership.owners.get(loc, {})
            conditional |= ownership.conditional.get(loc, set())
            for owner, example in sorted(owners.items()):
                if owner == NO_OWNER:
                    gaps.append(Gap(loc, example, None))
                elif methods.get(owner) == "keep":
                    gaps.append(Gap(loc, example, owner))
                else:
                    rules.add(owner)
        rows.append(CategoryCoverage(letter, title, tuple(sorted(rules)), tuple(sorted(conditional - rules)),
                                     tuple(_one_per_location(gaps))))  # fmt: skip
    return rows


def _one_per_location(gaps: list[Gap]) -> list[Gap]:
    seen: dict[str, Gap] = {}
    for gap in gaps:
        current = seen.get(gap.location)
        if current is None or (current.kept_by is not None and gap.kept_by is None):
            seen[gap.location] = gap  # "no rule" is the more important example
    return list(seen.values())
