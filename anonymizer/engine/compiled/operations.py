"""The operation of the rule owning an element position: ``op(value, run, parent object) -> new value``.

Every operation comes from the kernel (:mod:`anonymizer.engine.kernel`), chosen once per position; this module
only adapts it to the walk: it skips empty values as the node-tree engine does, logs the change (label and rule
hit, see :meth:`Run.flush`), counts changes that depend on the resource or on randomness (``run.volatile``), and
names the rule and path when a value makes the method fail.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from anonymizer.engine.compiled.changes import Changes, LabelIds
from anonymizer.engine.compiled.plans import NOCHANGE, SKIP, ElementPlan, Op
from anonymizer.engine.compiled.program import RuleProgram
from anonymizer.engine.compiled.run import Run
from anonymizer.engine.kernel import numbers
from anonymizer.engine.kernel.scrub import NOT_TEXT, scrub_text, text_scrubber
from anonymizer.engine.kernel.values import UNSEEN, OpSettings, date_plans, remove, value_cache, value_op
from anonymizer.engine.reference.nodes import generalize_not_applicable
from anonymizer.errors import VALUE_FAILURES, RuleNotApplicableError, method_failed
from anonymizer.fhir.model import PRIMITIVE_TYPES, TypeModel
from anonymizer.methods.date_shift import MAX_ORDINAL, PERTURB


def operation(prog: RuleProgram, element: ElementPlan, model: TypeModel, settings: OpSettings,
              changes: Changes) -> Op | None:  # fmt: skip
    """What rule ``prog`` does at ``element``, which it owns (``None``: nothing, the walk goes on below).

    ``changes`` gives the ids the operation logs (:mod:`anonymizer.engine.compiled.changes`).
    """
    method = prog.rule.method
    position = element.position
    ids = changes.label_ids((prog.rule.index, method))
    if method == "perturb":
        return _perturb(element, prog, model, ids)
    if position.fhir_type not in PRIMITIVE_TYPES:
        return _not_applicable(element, prog) if method == "generalize" else None
    if method == "scrubtext":
        return _scrub(element, prog, settings, ids)
    fn = value_op(prog.rule, position, settings)
    if fn is None:
        return None
    return _recording(fn, prog, element.owner_path, ids)


def _not_applicable(element: ElementPlan, prog: RuleProgram) -> Op:
    message = generalize_not_applicable(prog.rule, element.position.fhir_type, element.path)

    def refuse(value: Any, _run: Run, _parent: Any) -> Any:
        raise RuleNotApplicableError(message)

    return refuse


def _recording(fn: Any, prog: RuleProgram, owner_path: str, ids: LabelIds) -> Op:
    rule = prog.rule
    index = rule.index
    if fn is remove:  # the most common operation by far: no call, no offset
        removed = ids["REDACT"]

        def removing(value: Any, run: Run, _parent: Any) -> Any:
            if value is None or value == "":
                return NOCHANGE
            run.log.append(removed)
            return None

        return removing
    needs_offset = rule.method == "dateshift"
    volatile = needs_offset or rule.method == "encrypt"  # the resource's offset; a random IV
    keeps_empty = rule.method != "generalize"  # generalize evaluates its cases on "" too
    plans = date_plans(fn)
    if plans is not None:
        return _shifting(fn, plans, prog, owner_path, ids)
    cache = value_cache(fn)
    if cache is not None and keeps_empty:
        return _cached(fn, cache, prog, owner_path, ids)

    def op(value: Any, run: Run, _parent: Any) -> Any:
        if value is None or (keeps_empty and value == ""):
            return NOCHANGE
        try:
            new, label = fn(value, run.offset_for(index) if needs_offset else None)
        except VALUE_FAILURES as exc:
            raise method_failed(rule.label, rule.method, owner_path, exc) from None
        run.log.append(ids[label])
        if volatile:
            run.volatile += 1
        return new

    return op


def _cached(fn: Any, cache: dict[Any, Any], prog: RuleProgram, owner_path: str, ids: LabelIds) -> Op:
    """:func:`_recording` for a value function with a memo: a string value found there costs no call.

    The op's ``inline`` attribute, ``(memo, label ids, None, fill, failed)``, lets generated walk code
    (:mod:`anonymizer.engine.compiled.shapes`) do the lookup itself and on a miss call ``fill(value)`` (the
    result of a string, recorded in the memo), raising ``failed(exc)`` for what it raises.
    """
    rule = prog.rule

    def failed(exc: Exception) -> Exception:
        return method_failed(rule.label, rule.method, owner_path, exc)

    fill = getattr(fn, "fill", None)  # the result for a string not in the memo (recorded there)
    if fill is None:

        def fill(value: str) -> Any:
            return fn(value, None)

    def op(value: Any, run: Run, _parent: Any) -> Any:
        if value.__class__ is str:
            if not value:
                return NOCHANGE
            found = cache.get(value)
            if found is None:
                try:
                    found = fill(value)
                except VALUE_FAILURES as exc:
                    raise failed(exc) from None
            run.log.append(ids[found[1]])
            return found[0]
        elif value is None:
            return NOCHANGE
        try:
            new, label = fn(value, None)
        except VALUE_FAILURES as exc:
            raise failed(exc) from None
        run.log.append(ids[label])
        return new

    op.inline = (cache, ids, None, fill, failed)  # type: ignore[attr-defined]  # see shapes.py
    return op


def _shifting(fn: Any, plans: dict[str, Any], prog: RuleProgram, owner_path: str, ids: LabelIds) -> Op:
    """:func:`_recording` for date shifting: a string's plan (its day's ordinal and the text after the day, see
    :func:`anonymizer.methods.date_shift.shift_plan`) is memoised, the shift by the run's offset (see
    :meth:`Run.offset_value`) is computed here.

    The op's ``inline`` attribute, ``(plans, label ids, rule index)``, lets generated walk code
    (:mod:`anonymizer.engine.compiled.shapes`) shift a planned value itself and call the op otherwise.
    """
    rule = prog.rule
    index = rule.index
    plan_of, planned = fn.plan_of, fn.planned
    perturbed = ids[PERTURB]
    fromordinal, last = date.fromordinal, MAX_ORDINAL

    def shifting(value: Any, run: Run, _parent: Any) -> Any:
        if value is None or value == "":
            return NOCHANGE
        run.volatile += 1  # the resource's offset
        if value.__class__ is str:
            offset = run.offset_value(index)
            plan = plans.get(value, UNSEEN)
            try:
                if plan is UNSEEN:
                    plan = plan_of(value)
                if plan is not None and 0 < (day := plan[0] + offset) <= last:  # (shift_planned, inlined)
                    run.log.append(perturbed)
                    return fromordinal(day).isoformat() + plan[1]
                new, label = planned(value, plan, offset)
            except VALUE_FAILURES as exc:
                raise method_failed(rule.label, rule.method, owner_path, exc) from None
            run.log.append(ids[label])
            return new
        try:
            new, label = fn(value, run.offset_for(index))
        except VALUE_FAILURES as exc:
            raise method_failed(rule.label, rule.method, owner_path, exc) from None
        run.log.append(ids[label])
        return new

    shifting.inline = (plans, ids, index)  # type: ignore[attr-defined]  # see shapes.py
    return shifting


def _perturb(element: ElementPlan, prog: RuleProgram, model: TypeModel, ids: LabelIds) -> Op | None:
    rule = prog.rule
    fhir_type = element.position.fhir_type
    quantity = numbers.is_quantity(fhir_type, model)
    if not quantity and not numbers.is_number(fhir_type):
        return None
    perturbed = ids["PERTURB"]
    owner_path = element.owner_path

    def noisy(value: Any, value_type: str, run: Run) -> Any:
        try:
            new = numbers.perturbed(value, value_type, rule)
        except VALUE_FAILURES as exc:
            raise method_failed(rule.label, rule.method, owner_path, exc) from None
        if new is numbers.NOT_A_NUMBER:
            return NOCHANGE
        run.log.append(perturbed)
        run.volatile += 1  # random noise
        return new

    if not quantity:
        return lambda value, run, _parent: noisy(value, fhir_type, run)

    def perturb_quantity(value: Any, run: Run, _parent: Any) -> Any:
        if type(value) is dict and "value" in value:
            value_plan = element.sub.key("value")
            target = value_plan.element(value["value"]) if value_plan is not SKIP else None
            if target is not None and target.owner == rule.index:  # not visited by an earlier rule
                new = noisy(value["value"], "decimal", run)
                if new is not NOCHANGE:
                    value["value"] = new
        return NOCHANGE

    return perturb_quantity


def _scrub(element: ElementPlan, prog: RuleProgram, settings: OpSettings, ids: LabelIds) -> Op:
    rule = prog.rule
    scrubbed = ids["REDACT"]
    pos = element.position
    owner_path = element.owner_path
    params, as_of = settings.params, settings.as_of

    def scrub(value: Any, run: Run, parent: Any) -> Any:
        if not isinstance(value, str) or not value:
            return NOCHANGE
        run.volatile += 1  # the patient's identifiers, the resource's offset
        scrubber, cache_short = text_scrubber(rule, params, as_of, run.offset_for(rule.index))
        try:
            new = scrub_text(
                value,
                pos.fhir_type,
                pos.name,
                pos.parent_type,
                parent,
                scrubber,
                run.patient_identifiers,
                cache_short,
            )
        except VALUE_FAILURES as exc:
            raise method_failed(rule.label, rule.method, owner_path, exc) from None
        if new is NOT_TEXT:
            return NOCHANGE
        run.log.append(scrubbed)
        return new

    return scrub
