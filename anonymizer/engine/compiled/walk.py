"""Apply compiled plans to the objects of a resource: one walk over its JSON, changing values in place.

The walk mirrors the node-tree engine exactly: every key is validated against the R4 model, a primitive's
``_name`` holder is walked as the primitive's children, resources found inside the resource (``contained``,
Bundle entries) are queued on the run for :mod:`.process`, which handles whole resources and their labels.
"""

from __future__ import annotations

from typing import Any

from orjson import Fragment, JSONEncodeError, dumps, loads

from anonymizer.engine.compiled.plans import NOCHANGE, SKIP, ObjPlan
from anonymizer.engine.compiled.run import Run
from anonymizer.engine.compiled.shapes import shape_function
from anonymizer.engine.kernel.resources import resource_type_of
from anonymizer.fhir.prune import is_empty, prune, prune_entry, prune_holders

__all__ = ["MEMO_BUDGET", "MEMO_LIMIT", "SHAPE_NAMESPACE", "walk_object"]

_CONTAINERS = (dict, list)
#: Remembered element results per position before its memo starts again; misses before a position is judged;
#: the longest element text remembered; the JSON text (about half the memory) all memos of an engine may hold.
MEMO_LIMIT = 50_000
MEMO_TRIAL = 2_000
MEMO_MAX_TEXT = 4_096
MEMO_BUDGET = 32_000_000


def _walk(obj: dict[str, Any], plan: ObjPlan, run: Run, keys: Any, original: Any = None) -> None:
    """Walk ``keys`` of ``obj`` (children first changed, then pruned), then prune ``obj``'s own entries.

    ``original`` is the object's keys before the walk (default: ``keys``): a ``_name`` holder is walked on its
    own only when ``name`` was not there, even if pruning ``name`` has removed it since. An object whose keys
    (in this order) were seen before at this position runs the code generated for them (:mod:`.shapes`).
    """
    if original is None:
        fn = plan.shapes.get(keys)
        if fn is None:
            fn = shape_function(plan, keys, SHAPE_NAMESPACE)
        fn(obj, run)
        return
    _walk_generic(obj, plan, run, keys, original)


def _walk_generic(obj: dict[str, Any], plan: ObjPlan, run: Run, keys: Any, original: Any = None) -> None:
    """:func:`_walk` without generated code: one table lookup per key."""
    # FHIR names never contain "_" except holders ("_birthDate") and fhir_comments: most objects have none,
    # and take this loop (the same steps as :func:`_walk_with_holders` without the holders).
    if "_" in "".join(obj):
        _walk_with_holders(obj, plan, run, keys, keys if original is None else original)
        return
    inert, walkers = plan.inert, plan.walkers
    keep_meta = plan.is_root  # a resource's meta is pruned after its labels are added
    for key in keys:
        value = obj[key]
        # The two most common cases first: a scalar no rule changes, an object no rule changes (only walked).
        if key in inert:
            kind = type(value)
            if kind is str or kind is bool or kind is int or kind is float:
                continue
        elif type(value) is dict:
            sub = walkers.get(key)
            if sub is not None:
                if keep_meta and sub.memo is not None:  # an element of the resource itself: memoised
                    obj[key] = value = _walk_memoised(value, sub, run)
                else:
                    _walk(value, sub, run, tuple(value))
                if not value and not (keep_meta and key == "meta"):
                    del obj[key]
                continue
        _key(obj, key, value, plan, run)


def _key(obj: dict[str, Any], key: str, value: Any, plan: ObjPlan, run: Run) -> None:
    """One key of :func:`_walk_generic` beyond its two shortcuts (also called by generated code)."""
    keep_meta = plan.is_root
    kp = plan.keys.get(key)
    if kp is None:
        kp = plan.key(key)
    if kp is SKIP:
        return  # resourceType (validated as a string)
    ep = kp.static
    if isinstance(value, list):
        if ep is None or kp.is_resource:
            for i, element in enumerate(value):
                _element(obj, value, i, element, None, kp, run)
        else:  # the common case, inlined: one plan for every element
            op, primitive, sub = ep.op, kp.primitive, None
            for i, element in enumerate(value):
                if op is not None:
                    new = op(element, run, obj)
                    if new is not NOCHANGE:
                        value[i] = element = new
                if primitive:
                    if type(element) is not str and isinstance(element, _CONTAINERS):
                        prune(element)  # not a primitive value: only pruned
                elif isinstance(element, dict):
                    if sub is None:
                        sub = ep.sub
                    if keep_meta and op is None and sub.memo is not None:
                        value[i] = _walk_memoised(element, sub, run)
                    else:
                        _walk(element, sub, run, tuple(element))
                elif isinstance(element, list):
                    prune(element)
        for element in value:
            if element is None or (isinstance(element, _CONTAINERS) and not element):
                value[:] = [v for v in value if not is_empty(v)]
                break
        if not value and not (keep_meta and key == "meta"):
            del obj[key]
        return
    if kp.is_resource:
        _element(obj, obj, key, value, None, kp, run)
        return
    if ep is None:
        ep = kp.element(value)
    op = ep.op
    if op is not None:
        new = op(value, run, obj)
        if new is not NOCHANGE:
            obj[key] = value = new
    if value is None:
        if not (keep_meta and key == "meta"):
            del obj[key]
    elif kp.primitive:
        if type(value) is not str and isinstance(value, _CONTAINERS):
            prune(value)  # not a primitive value: only pruned
            if not value:
                del obj[key]
    elif isinstance(value, dict):
        _walk(value, ep.sub, run, tuple(value))
        if not value and not (keep_meta and key == "meta"):
            del obj[key]


def _walk_memoised(
    value: dict[str, Any], plan: ObjPlan, run: Run, before: bytes | None = None
) -> dict[str, Any]:
    """:func:`_walk` ``value``, or reuse the result of an equal value met before at this position.

    Elements of resources repeat (codes, references to the same patient, units): a walk whose changes depend
    only on the values and their positions (no date offset, patient identifiers or randomness: ``run.volatile``
    unchanged) and that found no resource inside is remembered by the element's JSON text, with the changes it
    logged. A position where few elements repeat stops being memoised. Returns the value to keep.

    ``before``: the value's JSON text when the caller has written it and not found it in the memo (generated
    code); otherwise it is written and looked up here.
    """
    memo = plan.memo
    assert memo is not None
    # (result text or None when unchanged; the changes logged; the result as an object, handed out when shared)
    if before is None:
        try:
            before = dumps(value)
        except JSONEncodeError:  # a dict built by the caller, with values JSON does not have
            _walk(value, plan, run, tuple(value))
            return value
        found = memo.get(before)
    else:
        found = None
    if found is not None:
        out, entries, result = found
        if entries:
            run.log.extend(entries)
        plan.memo_hits += 1
        if out is None:
            return value
        # meta is changed later (labels): never shared
        return result if run.shared and plan.fhir_type != "Meta" else loads(out)
    log, volatile, subs = run.log, run.volatile, len(run.subs)
    mark = len(log)
    _walk(value, plan, run, tuple(value))
    if run.volatile == volatile and len(run.subs) == subs and len(before) <= MEMO_MAX_TEXT:
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        after = dumps(value)
        # Compact copies: orjson's bytes keep their initial 4 KiB buffer whatever their length.
        if after == before:
            memo[_compact(before)] = (None, tuple(log[mark:]), None)
        else:  # the result handed out when shared: its JSON text (an empty one must stay falsy: pruned)
            text = _compact(after)
            memo[_compact(before)] = (text, tuple(log[mark:]), Fragment(text) if value else loads(text))
        _account(plan, 2 * (len(before) + len(after)))
    misses = plan.memo_misses = plan.memo_misses + 1
    if misses >= MEMO_TRIAL and plan.memo_hits * 3 < misses:
        plan.memo = None  # values here rarely repeat (or their changes depend on the resource)
        memo.clear()
    return value


def _compact(text: bytes) -> bytes:
    """A copy of ``text`` that takes only its length in memory (formatting writes an exact-size copy: about half
    the time of ``bytes(memoryview(text))``, 100 against 270 ns for a 175-byte text)."""
    return b"%b" % text


def _account(plan: ObjPlan, size: int) -> None:
    """Keep the memos of one engine under :data:`MEMO_BUDGET` bytes of JSON text (all forgotten beyond it)."""
    budget = plan.compiler.memo_budget
    if not plan.memo_counted:
        plan.memo_counted = True
        budget.plans.append(plan)
    budget.used += size
    if budget.used > MEMO_BUDGET:
        for memoised in budget.plans:
            if memoised.memo is not None:
                memoised.memo.clear()
        budget.used = 0


def _walk_with_holders(obj: dict[str, Any], plan: ObjPlan, run: Run, keys: Any, original: Any) -> None:
    plans = plan.keys
    keep_meta = plan.is_root  # a resource's meta is pruned after its labels are added
    for key in keys:
        kp = plans.get(key)
        if kp is None:
            kp = plan.key(key)
        if kp is SKIP:
            if key in obj and not key.startswith("_"):
                prune_entry(obj, key, deep=True)
            continue
        if kp.holder_only:
            base = kp.key[1:]
            if base in original or key not in obj:
                continue  # walked (and pruned) with its primitive
            holders = obj[key]
            # A primitive with only extensions: give it a null value so it has a place (as the node tree does).
            value = obj[base] = [None] * len(holders) if isinstance(holders, list) else None
            kp = kp.base
            key = base
        else:
            value = obj[key]
            holders = obj.get("_" + key)
        primitive = kp.primitive
        if holders is not None and not primitive:
            prune(holders)  # a holder beside a complex element: not walked, only pruned
        if isinstance(value, list):
            hl = holders if primitive and isinstance(holders, list) else None
            for i, element in enumerate(value):
                holder = hl[i] if hl is not None and i < len(hl) else None
                _element(obj, value, i, element, holder, kp, run)
            if hl is not None:
                for element in hl[len(value) :]:
                    if isinstance(element, _CONTAINERS):
                        prune(element)
            elif primitive and isinstance(holders, dict):
                prune(holders)
        else:
            if primitive and isinstance(holders, list):
                prune(holders)
                holders = None
            _element(obj, obj, key, value, holders, kp, run)
        if not (keep_meta and key == "meta"):
            prune_entry(obj, key, deep=False)
    prune_holders(obj)


def _element(
    obj: dict[str, Any], container: Any, key: Any, value: Any, holder: Any, kp: Any, run: Run
) -> None:
    if kp.is_resource:
        resource_type_of(value, kp.parent.compiler.model, kp.path)
        run.subs.append((value, kp.name))
        return
    ep = kp.static
    if ep is None:
        ep = kp.element(value)
    op = ep.op
    if op is not None:
        new = op(value, run, obj)
        if new is not NOCHANGE:
            container[key] = value = new
    if kp.primitive:
        if isinstance(holder, dict):
            _walk(holder, ep.sub, run, tuple(holder))
        elif isinstance(holder, list):
            prune(holder)
        if isinstance(value, _CONTAINERS):
            prune(value)  # not a primitive value: only pruned
    elif isinstance(value, dict):
        _walk(value, ep.sub, run, tuple(value))
    elif isinstance(value, list):
        prune(value)


#: What generated shape code calls (handed to :mod:`.shapes`, which does not import this module).
SHAPE_NAMESPACE: dict[str, Any] = {
    "_walk": _walk,
    "_walk_generic": _walk_generic,
    "_walk_memoised": _walk_memoised,
    "_key": _key,
    "prune": prune,
    "is_empty": is_empty,
}

#: The walk of an object with its keys (for :mod:`.process`).
walk_object = _walk
