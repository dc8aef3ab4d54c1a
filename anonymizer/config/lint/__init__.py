"""``check-config``: what loading a rules file cannot tell, checked against the engine's R4 model.

- every rule path must be able to match some element (a typo such as ``Patient.nmae`` would otherwise silently
  publish every name): an **error**, with a did-you-mean;
- a rule fully shadowed by earlier rules (first rule wins) can never apply: a **warning**;
- a method that needs a key without one is an **error** (unless ephemeral keys are allowed, as at run time);
- everything :func:`anonymizer.config.load_config` rejects is an error too;
- optionally the Safe Harbor coverage table (:mod:`anonymizer.config.lint.safe_harbor`).

Key references are checked for presence, not resolved: the linter never reads a secret store. Findings name
rules, paths and parameters, never key values.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from anonymizer.config.lint.elements import r4_index
from anonymizer.config.lint.ownership import Program, analyse
from anonymizer.config.lint.reach import dead_reason
from anonymizer.config.lint.safe_harbor import CategoryCoverage, coverage, location_matcher
from anonymizer.config.loader import KEY_PARAMETERS, keys_needed, load_config, read_raw_config
from anonymizer.config.model import AnonymizerConfig, RuleConfig
from anonymizer.errors import ConfigError
from anonymizer.secrets import is_reference

log = logging.getLogger("anonymizer.config")

ERROR = "error"
WARNING = "warning"
#: What an unresolved key reference stands for while the structure is validated (a valid AES-128 size).
_PLACEHOLDER_KEY = "0" * 16


@dataclass(frozen=True)
class Finding:
    """One problem: severity, what it is about (a rule label or a parameter) and the message."""

    severity: str
    subject: str
    message: str
    code: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.subject}: {self.message}"


@dataclass
class LintReport:
    """All findings of one config, and the coverage table when it was asked for."""

    source: str
    findings: list[Finding] = field(default_factory=list)
    coverage: list[CategoryCoverage] | None = None
    rules: tuple[RuleConfig, ...] = ()

    @property
    def errors(self) -> list[Finding]:
        """Findings that stop a run."""
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        """Findings that do not."""
        return [f for f in self.findings if f.severity == WARNING]


def lint_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    allow_dead_rules: bool = False,
    allow_ephemeral_keys: bool = False,
    with_coverage: bool = False,
) -> LintReport:
    """Check a rules file (path or parsed dict); see the module docstring.

    Args:
        allow_dead_rules: report rules that can never match as warnings instead of errors (Microsoft's test
            configs deliberately hold such rules).
        allow_ephemeral_keys: an empty key is not an error (a throw-away run generates one).
        with_coverage: also build the Safe Harbor coverage table (explores every element of every type).
    """
    name = str(source) if not isinstance(source, Mapping) else "<config>"
    report = LintReport(name)
    try:
        raw = dict(source) if isinstance(source, Mapping) else read_raw_config(source)
        config = validate_without_keys(raw, source)
    except ConfigError as exc:
        report.findings.append(Finding(ERROR, "config", str(exc), "invalid"))
        return report
    report.rules = config.rules
    report.findings += _key_findings(raw, config, allow_ephemeral_keys)
    report.findings += _rule_findings(config, allow_dead_rules, report, with_coverage)
    return report


def check_before_run(
    config: str | os.PathLike[str], *, allow_dead_rules: bool = False, what: str = "run"
) -> LintReport:
    """The check every ``deidentify``, ``verify`` and notebook load starts with.

    Warnings are logged; errors raise :class:`ConfigError` listing each (rule and cause). Keys are left to the
    loader, which resolves them with the run's own options (``--keys-from``, ``--allow-ephemeral-keys``).
    """
    report = _cached_lint(str(config), _stamp(config), allow_dead_rules)
    for finding in report.warnings:
        log.warning("%s: %s", config, finding)
    if report.errors:
        listed = "; ".join(f"{f.subject}: {f.message}" for f in report.errors)
        dead = any(f.code == "dead_rule" for f in report.errors)
        raise ConfigError(
            f"the {what} refuses config {config}: {listed}. Fix the config (`fhir-anonymizer check-config "
            f"{config}` shows every finding)"
            + (", or pass --allow-dead-rules for a test config whose dead rules are intended" if dead else "")
        )
    return report


def _stamp(config: str | os.PathLike[str]) -> tuple[int, int]:
    try:
        stat = os.stat(config)
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _cached_lint(config: str, stamp: tuple[int, int], allow_dead_rules: bool) -> LintReport:
    """The CLI checks before it starts Spark, the pipeline again when it starts: one lint per file version."""
    return lint_config(config, allow_dead_rules=allow_dead_rules, allow_ephemeral_keys=True)


def validate_without_keys(raw: dict[str, Any], source: object) -> AnonymizerConfig:
    """The config validated in everything but the keys: references stand in as placeholders, never resolved
    (``verify`` reads the rules this way: it needs no keys). Its ``fingerprint`` is of the placeholders."""
    params = dict(raw.get("parameters") or {}) if isinstance(raw.get("parameters"), dict) else None
    if params is not None:
        for key in KEY_PARAMETERS:
            if isinstance(params.get(key), str) and is_reference(params[key]):
                params[key] = _PLACEHOLDER_KEY
        raw = {**raw, "parameters": params}
    base = Path(source).parent if isinstance(source, str | os.PathLike) else None
    # key strength is judged when the real keys are resolved (load_config at run time), not on placeholders
    return load_config(raw, allow_ephemeral_keys=True, base_dir=base, allow_weak_test_keys=True)


def _key_findings(raw: dict[str, Any], config: AnonymizerConfig, allow_ephemeral: bool) -> list[Finding]:
    params = raw.get("parameters") or {}
    needed = keys_needed({r.method for r in config.rules}, params)
    out = []
    for key, needs in needed.items():
        if needs and not params.get(key) and not allow_ephemeral:
            users = sorted({r.method for r in config.rules if _needs(r.method, key)})
            out.append(Finding(ERROR, f"parameters.{key}", (
                f"is empty but {', '.join(users)} needs it: give a reference (env:NAME, file:PATH, "
                "dbsecret:scope/key, keyvault:URL), or --allow-ephemeral-keys for a throw-away run"), "missing_key"))  # fmt: skip
    return out


def _needs(method: str, key: str) -> bool:
    return {"dateShiftKey": "dateshift", "cryptoHashKey": "cryptohash", "encryptKey": "encrypt"}[
        key
    ] == method


def _rule_findings(
    config: AnonymizerConfig, allow_dead: bool, report: LintReport, with_coverage: bool
) -> list[Finding]:
    from anonymizer.fhirpath.compiler import compile_path, flatten

    index = r4_index()
    out: list[Finding] = []
    programs: list[Program] = []
    for rule in config.rules:
        if rule.path is None:
            continue  # jsonPath rules address JSON, not FHIR elements: not checked against the model
        try:
            compiled = compile_path(rule.path)
        except ConfigError as exc:
            out.append(Finding(ERROR, rule.label, str(exc), "unsupported_path"))
            continue
        branches = flatten(compiled.branches)
        dead = dead_reason(index, rule.path, compiled, branches)
        if dead is not None:
            hint = f"; did you mean {dead.did_you_mean}?" if dead.did_you_mean else ""
            out.append(Finding(WARNING if allow_dead else ERROR, rule.label,
                               f"can never match any element: {dead.reason}{hint}", "dead_rule"))  # fmt: skip
            continue
        programs.append(Program(rule.index, compiled.resource_type, branches, compiled.fast))
    matcher = location_matcher(index) if with_coverage else None
    found = analyse(index, programs, matcher)
    for prog in programs:
        if prog.index in found.effective:
            continue
        rule = config.rules[prog.index]
        where, owner = found.shadowed_at.get(prog.index, ("", None))
        by = f" (e.g. at {where}, owned by {config.rules[owner].label})" if owner is not None else ""
        out.append(Finding(WARNING, rule.label,
                           f"never applies: every element it matches is already handled by an earlier rule{by}",
                           "shadowed_rule"))  # fmt: skip
    if with_coverage:
        report.coverage = coverage(found, {r.index: r.method for r in config.rules})
    return sorted(out, key=lambda f: _rule_order(f, config))


def _rule_order(finding: Finding, config: AnonymizerConfig) -> int:
    for rule in config.rules:
        if finding.subject == rule.label:
            return rule.index
    return -1


__all__ = ["ERROR", "WARNING", "Finding", "LintReport", "check_before_run", "lint_config"]
