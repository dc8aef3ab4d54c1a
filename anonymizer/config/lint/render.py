"""Text form of a lint report: findings one per line, then the Safe Harbor coverage table."""

from __future__ import annotations

from collections.abc import Sequence

from anonymizer.config.lint.safe_harbor import CategoryCoverage
from anonymizer.config.model import RuleConfig

_MAX_RULES_SHOWN = 6


def render_findings(findings: Sequence[object]) -> list[str]:
    """One line per finding (``error: rule #3 (Patient.nmae): ...``)."""
    return [str(f) for f in findings]


def render_coverage(rows: list[CategoryCoverage], rules: tuple[RuleConfig, ...]) -> list[str]:
    """The 18 categories: the rules that change their elements, and the elements no rule changes."""
    by_index = {r.index: r for r in rules}
    out = [
        "Safe Harbor coverage (45 CFR 164.514(b)(2)(i)); for each category: the rules that change its elements "
        "(first rule wins), and the elements that can carry it but stay unchanged somewhere",
        f"{'cat':<4}{'category':<46}{'rules':>6}  unchanged (example position: why)",
    ]
    for row in rows:
        gaps = [
            f"{g.location} (e.g. {g.example}: "
            + (f"kept by {by_index[g.kept_by].label}" if g.kept_by is not None else "no rule")
            + ")"
            for g in row.gaps
        ]
        out.append(f"{row.letter:<4}{row.title[:45]:<46}{len(row.rules):>6}  {gaps[0] if gaps else '-'}")
        out += [f"{'':<58}{gap}" for gap in gaps[1:]]
        if row.rules:
            ordered = sorted(row.rules, key=lambda i: (not _type_wide(by_index[i]), i))
            shown = ", ".join(_short(by_index[i]) for i in ordered[:_MAX_RULES_SHOWN])
            more = (
                f" and {len(row.rules) - _MAX_RULES_SHOWN} more" if len(row.rules) > _MAX_RULES_SHOWN else ""
            )
            out.append(f"{'':<10}rules: {shown}{more}")
        if row.conditional:
            shown = ", ".join(_short(by_index[i]) for i in row.conditional[:_MAX_RULES_SHOWN])
            out.append(f"{'':<10}depending on values (where / extension url): {shown}")
    return out


def _type_wide(rule: RuleConfig) -> bool:
    """Rules for every resource type (``nodesByType(...)``, ``Resource.id``) first: they cover a category."""
    path = rule.path or ""
    return not path[:1].isupper() or path.startswith(("Resource.", "DomainResource."))


def _short(rule: RuleConfig) -> str:
    return f"#{rule.index + 1} {rule.path or rule.json_path} {rule.method}"
