"""Anonymize whole resources on compiled plans: the root's walk, resources found inside, labels and rule hits.

Resources inside the resource (``contained``, Bundle entries) are processed after their container with their
own plans; labels are added per resource (not to contained ones) and pass up to the container.

Ordering: Microsoft's engine runs rule by rule, so a date-shift rule in resource scope sees the resource ``id``
as the rules *before* it left it (the sample config hashes ``Resource.id`` first, so the offset comes from the
hashed id). The walk therefore applies the root's ``id`` first and gives each date rule the id it would have
seen; resources inside use the container's final id, as they are processed after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from anonymizer.engine.compiled.changes import PENDING_LIMIT
from anonymizer.engine.compiled.compiler import PlanCompiler
from anonymizer.engine.compiled.plans import SKIP, ObjPlan
from anonymizer.engine.compiled.run import Run
from anonymizer.engine.compiled.shapes import SHAPE_LIMIT, shape_function
from anonymizer.engine.compiled.walk import SHAPE_NAMESPACE, walk_object
from anonymizer.engine.kernel.labels import add_security_labels
from anonymizer.fhir.prune import prune_entry

__all__ = ["process_resource", "shared_processor"]


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
        fn = shape_function(plan, keys, SHAPE_NAMESPACE)
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
    walk_object(resource, plan, run, tuple(resource))
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
