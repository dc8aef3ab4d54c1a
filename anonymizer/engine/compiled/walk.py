"""Apply compiled plans to a resource: one walk over its JSON, changing values in place.

The walk mirrors the node-tree engine exactly: every key is validated against the R4 model, a primitive's
``_name`` holder is walked as the primitive's children, resources inside the resource (``contained``, Bundle
entries) are processed after their container with their own plans, labels are added per resource (not to
contained ones) and pass up to the container.

Ordering: Microsoft's engine runs rule by rule, so a date-shift rule in resource scope sees the resource ``id``
as the rules *before* it left it (the sample config hashes ``Resource.id`` first, so the offset comes from the
hashed id). The walk therefore applies the root's ``id`` first and gives each date rule the id it would have
seen; resources inside use the container's final id, as they are processed after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orjson import Fragment, JSONEncodeError, dumps, loads

from anonymizer.engine.compiled.changes import PENDING_LIMIT
from anonymizer.engine.compiled.compiler import PlanCompiler
from anonymizer.engine.compiled.plans import NOCHANGE, SKIP, ObjPlan
from anonymizer.engine.compiled.run import Run
from anonymizer.engine.compiled.shapes import SHAPE_LIMIT, shape_function
from anonymizer.engine.kernel.labels import add_security_labels
from anonymizer.engine.kernel.resources import resource_type_of
from anonymizer.fhir.prune import is_empty, prune, prune_entry, prune_holders

__all__ = ["process_resource", "shared_processor"]

_CONTAINERS = (dict, list)
#: Remembered element results per position before its memo starts again; misses before a position is judged;
#: the longest element text remembered; the JSON text (about half the memory) all memos of an engine may hold.
MEMO_LIMIT = 50_000
MEMO_TRIAL = 2_000
MEMO_MAX_TEXT = 4_096
MEMO_BUDGET = 32_000_000


def process_resource(compiler: PlanCompiler, resource: dict[str, Any], run: Run) -> None:
    """Anonymize a top-level resource and everything inside it, and prune what was emptied."""
    resource_type = resource["resourceType"]
    plan = compiler.roots.get(resource_type)
    if plan is None:
        plan = compiler.root(resource_type)
    keys: Any = tuple(resource)
    start = plan.starts.get(keys)
    if start is None:
        start = _start(plan, keys, resource)
    fn, owner = start
    if plan.element.op is not None:  # a rule on the resource itself that refuses it (generalize)
        plan.element.op(resource, run, None)
    if owner is None:
        fn(resource, run)
    else:
        run.early_until = owner  # the id's owner and the rules before it see the original id
        fn(resource, run)
        run.early_until = None
    log = run.log
    if run.subs or "meta" in resource:
        _finish(compiler, resource, run, "", None)
    elif log:  # the common case (_finish, inlined): a new meta with the labels only (run.ops stays unused)
        changes = compiler.changes
        done = tuple(log)  # the same changes in the same order, mostly, for resources of one shape
        log.clear()
        entry = changes.logs.get(done)
        if entry is None:
            entry = changes.log_entry(done)
        pending = changes.pending  # (Changes.record, inlined: the entry stands for its changes)
        pending.append(entry)
        if len(pending) >= PENDING_LIMIT:
            changes.sync()
        if entry.codings:
            if run.shared:  # the labels of this log as a meta object, shared by results serialised at once
                meta = entry.meta
                if meta is None:
                    meta = entry.meta = {"security": list(entry.codings)}
                resource["meta"] = meta
            else:
                resource["meta"] = {"security": [dict(c) for c in entry.codings]}


def shared_processor(
    compiler: PlanCompiler, new_run: Callable[[], Run]
) -> Callable[[dict[str, Any], str], None]:
    """:func:`process_resource` for results serialised at once (shared), with one :class:`Run` for every call.

    The returned ``process(resource, resource_type)`` takes a top-level resource whose ``resourceType`` (an R4
    resource type) was checked by the caller. What a finished walk leaves in the run is reset (its log and the
    resources found inside are emptied by the walk; ``volatile`` is only compared within a call); after a failure
    the next call gets a new run from ``new_run``.
    """
    roots, changes = compiler.roots, compiler.changes
    logs, pending = changes.logs, changes.pending  # (emptied in place, never replaced)
    run = new_run()

    def process(resource: dict[str, Any], resource_type: str) -> None:
        nonlocal run
        r = run
        r.root = resource
        r.id_before = resource.get("id")
        r._early = None
        r.late = None
        try:  # (process_resource, inlined)
            plan = roots.get(resource_type) or compiler.root(resource_type)
            keys: Any = tuple(resource)
            start = plan.starts.get(keys)
            if start is None:
                start = _start(plan, keys, resource)
            fn, owner = start
            if plan.element.op is not None:
                plan.element.op(resource, r, None)
            if owner is None:
                fn(resource, r)
            else:
                r.early_until = owner
                fn(resource, r)
                r.early_until = None
            log = r.log
            if r.subs or "meta" in resource:
                _finish(compiler, resource, r, "", None)
                if r.ops:
                    r.ops = set()
            elif log:
                done = tuple(log)
                log.clear()
                entry = logs.get(done)
                if entry is None:
                    entry = changes.log_entry(done)
                pending.append(entry)
                if len(pending) >= PENDING_LIMIT:
                    changes.sync()
                if entry.codings:
                    meta = entry.meta
                    if meta is None:
                        meta = entry.meta = {"security": list(entry.codings)}
                    resource["meta"] = meta
        except BaseException:
            run = new_run()  # the failed walk may have left anything in the run
            raise

    return process


def _start(plan: ObjPlan, keys: tuple[str, ...], resource: dict[str, Any]) -> tuple[Any, int | None]:
    """The generated walk of a resource with ``keys`` and the rule index that sees its original id (or None).

    Kept per key tuple when it does not depend on the id's value and the walk itself is kept.
    """
    owner = None
    fixed = True
    id_plan = (plan.keys.get("id") or plan.key("id")) if "id" in resource else None
    if id_plan is not None and id_plan is not SKIP:
        fixed = id_plan.static is not None
        owner = (id_plan.static or id_plan.element(resource["id"])).owner
        if owner is not None and keys[0] != "id" and keys[:2] != ("resourceType", "id"):
            keys_in = keys
            keys = ("id", *(k for k in keys if k != "id"))  # the id first: later rules see it changed
        else:
            keys_in = keys
    else:
        keys_in = keys
    fn = plan.shapes.get(keys)
    if fn is None:
        fn = shape_function(plan, keys, _SHAPE_NAMESPACE)
    start = (fn, owner)
    if fixed and plan.shapes.get(keys) is fn and len(plan.starts) < SHAPE_LIMIT:
        plan.starts[keys_in] = start
    return start


def _process_sub(compiler: PlanCompiler, resource: dict[str, Any], run: Run, name: str,
                 parent_ops: set[int]) -> None:  # fmt: skip
    outer_ops, run.ops = run.ops, set()
    plan = compiler.root(resource["resourceType"])
    if plan.element.op is not None:
        plan.element.op(resource, run, None)
    _walk(resource, plan, run, tuple(resource))
    _finish(compiler, resource, run, name, parent_ops)
    run.ops = outer_ops


def _finish(compiler: PlanCompiler, resource: dict[str, Any], run: Run, name: str,
            parent_ops: set[int] | None) -> None:  # fmt: skip
    changes = compiler.changes
    log, ops = run.log, run.ops
    if log:  # (Run.flush, inlined)
        ops.update(log)
        changes.record(log)
        log.clear()
    if run.subs:
        subs, run.subs = run.subs, []
        for sub, slot in subs:
            _process_sub(compiler, sub, run, slot, ops)
    if parent_ops is not None:
        parent_ops |= ops
    if name != "contained":
        if ops and "meta" not in resource:  # the common case: a new meta with the labels only
            codings = changes.codings(ops)
            if codings:
                resource["meta"] = {"security": list(codings) if run.shared else [dict(c) for c in codings]}
            return
        add_security_labels(resource, changes.labels(ops))
    if "meta" in resource:
        prune_entry(resource, "meta", deep=False)


def _walk(obj: dict[str, Any], plan: ObjPlan, run: Run, keys: Any, original: Any = None) -> None:
    """Walk ``keys`` of ``obj`` (children first changed, then pruned), then prune ``obj``'s own entries.

    ``original`` is the object's keys before the walk (default: ``keys``): a ``_name`` holder is walked on its
    own only when ``name`` was not there, even if pruning ``name`` has removed it since. An object whose keys
    (in this order) were seen before at this position runs the code generated for them (:mod:`.shapes`).
    """
    if original is None:
        fn = plan.shapes.get(keys)
        if fn is None:
            fn = shape_function(plan, keys, _SHAPE_NAMESPACE)
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


def _walk_memoised(value: dict[str, Any], plan: ObjPlan, run: Run) -> dict[str, Any]:
    """:func:`_walk` ``value``, or reuse the result of an equal value met before at this position.

    Elements of resources repeat (codes, references to the same patient, units): a walk whose changes depend
    only on the values and their positions (no date offset, patient identifiers or randomness: ``run.volatile``
    unchanged) and that found no resource inside is remembered by the element's JSON text, with the changes it
    logged. A position where few elements repeat stops being memoised. Returns the value to keep.
    """
    memo = plan.memo
    assert memo is not None
    # (result text or None when unchanged; the changes logged; the result as an object, handed out when shared)
    try:
        before = dumps(value)
    except JSONEncodeError:  # a dict built by the caller, with values JSON does not have
        _walk(value, plan, run, tuple(value))
        return value
    found = memo.get(before)
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
    """A copy of ``text`` that takes only its length in memory."""
    return bytes(memoryview(text))


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
_SHAPE_NAMESPACE: dict[str, Any] = {
    "_walk": _walk,
    "_walk_generic": _walk_generic,
    "_walk_memoised": _walk_memoised,
    "_key": _key,
    "prune": prune,
    "is_empty": is_empty,
}
