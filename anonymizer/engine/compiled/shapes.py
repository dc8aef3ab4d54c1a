"""Generated walk code per object *shape*: the keys of an object position, in the order they come.

Objects at one position mostly come with the same keys in the same order (a ``Coding`` with ``system``, ``code``,
``display``; an ``Observation`` from one exporter). For such a key tuple the walk's decisions per key are fixed
by the plan, so :func:`shape_function` writes them out once as Python source, straight-line code per key
(compiled with :func:`compile`, cached per :class:`~anonymizer.engine.compiled.plans.ObjPlan` and key tuple):

- keys whose primitive no rule changes are checked together, in C (``itemgetter`` and a type set); a value that
  is not a JSON scalar sends the whole object to the table-driven walk, before anything was changed;
- an element no rule changes (only walked) is memoised or walked below, with no lookup;
- a primitive with a fixed operation calls it directly; a memoised one is looked up inline and a miss computed in
  place by the memo's ``fill``; a date is shifted inline from its memoised plan (day ordinal, suffix) by the
  rule's offset, read once per call;
- a complex element whose plan depends on its value (``where(...)``, ``extension('url')``) gets its plan from the
  guards, then the shape of its object is called directly;
- anything else calls the table-driven code for that one key.

The generated source holds only plan structure: R4 element names (validated against the model before they are
written) and slot names; operations, plans and keys are bound as closure variables, never written as literals.
Shapes are bounded per position and per engine; beyond the bounds objects take the table-driven walk.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from operator import itemgetter
from typing import Any

from orjson import JSONEncodeError, dumps, loads

from anonymizer.engine.compiled.plans import NOCHANGE, SKIP, ObjPlan
from anonymizer.errors import VALUE_FAILURES, AnonymizerError
from anonymizer.methods.date_shift import MAX_ORDINAL, PERTURB

__all__ = ["SHAPE_LIMIT", "SHAPE_BUDGET", "shape_function"]

#: Shapes remembered per object position, and per engine (then objects take the table-driven walk).
SHAPE_LIMIT = 64
SHAPE_BUDGET = 20_000

ShapeFn = Callable[[dict[str, Any], Any], None]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")
_SCALARS = frozenset({str, bool, int, float})
#: A memo miss in generated code.
_MISS = object()


def shape_function(plan: ObjPlan, keys: tuple[str, ...], namespace: dict[str, Any]) -> ShapeFn:
    """The walk of an object of ``plan`` with exactly ``keys`` (in this order); cached on ``plan`` when allowed.

    ``namespace`` holds the walk's functions (``_walk``, ``_walk_generic``, ``_walk_memoised``, ``_key``,
    ``prune``, ``is_empty``) that the generated code calls.
    """
    generic = namespace["_walk_generic"]
    fn = _generate(plan, keys, namespace)
    if fn is None:

        def fn(obj: dict[str, Any], run: Any) -> None:
            generic(obj, plan, run, keys)

    budget = plan.compiler.memo_budget
    if len(plan.shapes) < SHAPE_LIMIT and budget.shapes < SHAPE_BUDGET:
        plan.shapes[keys] = fn
        budget.shapes += 1
    return fn


def _generate(plan: ObjPlan, keys: tuple[str, ...], namespace: dict[str, Any]) -> ShapeFn | None:
    """Source for ``keys`` of ``plan``, compiled; ``None`` when the table-driven walk must handle them."""
    if not all(_NAME.match(key) for key in keys):
        return None  # holders (``_x``), fhir_comments: the table-driven walk
    try:
        kps = [plan.key(key) for key in keys]
    except AnonymizerError:
        return None  # an unknown element: raised by the table-driven walk at its place
    root = plan.is_root
    bound: dict[str, Any] = {"plan": plan, "KEYS": keys, "NOCHANGE": NOCHANGE, "SCALARS": _SCALARS,
                             "CONTAINERS": (dict, list)}  # fmt: skip
    for name in ("_walk", "_walk_generic", "_walk_memoised", "_key", "prune", "is_empty"):
        bound[name] = namespace[name]
    bound.update(
        _shape=shape_function, NAMESPACE=namespace, MISS=_MISS
    )  # (_walk, inlined: the shape of a sub-object)
    inert = [key for key in keys if key in plan.inert]
    offsets: dict[int, int] = {}  # rule index of a date shift -> its inline lookups here
    body: list[str] = []
    if len(inert) == 1:
        body += [f"if obj[{inert[0]!r}].__class__ not in SCALARS:", "    _walk_generic(obj, plan, run, KEYS)",
                 "    return"]  # fmt: skip
    elif inert:
        bound["INERT"] = itemgetter(*inert)
        body += ["if not SCALARS.issuperset(map(type, INERT(obj))):", "    _walk_generic(obj, plan, run, KEYS)",
                 "    return"]  # fmt: skip
    for i, (key, kp) in enumerate(zip(keys, kps, strict=True)):
        if kp is SKIP or key in plan.inert:
            continue
        k = repr(key)
        ep = kp.static
        plain = ep is not None and not kp.is_resource and not kp.holder_only
        if plain and ep.op is None and not kp.primitive:  # an element no rule changes (only walked)
            sub = bound[f"S{i}"] = ep.sub
            one = (
                _memoised(f"S{i}", "v", f"obj[{k}] = v", sub, "    ")
                if root
                else [f"    (S{i}.shapes.get(k := tuple(v)) or _shape(S{i}, k, NAMESPACE))(v, run)"]
            )
            each = (
                _memoised(f"S{i}", "e", "v[j]", sub, " " * 12)
                if root
                else [f"            (S{i}.shapes.get(k := tuple(e)) or _shape(S{i}, k, NAMESPACE))(e, run)"]
            )
            drop = [] if root and key == "meta" else ["    if not v:", f"        del obj[{k}]"]
            body += [f"v = obj[{k}]", "if v.__class__ is dict:", *one, *drop,
                     "elif v.__class__ is list:", "    for j, e in enumerate(v):", "        if e.__class__ is dict:",
                     *each, "        elif e.__class__ is list:", "            prune(e)", "    if not all(v):",
                     "        v[:] = [e for e in v if not is_empty(e)]", *drop,
                     "else:", f"    _key(obj, {k}, v, plan, run)"]  # fmt: skip
            continue
        if plain and ep.op is not None and kp.primitive:
            bound[f"O{i}"] = ep.op
            body.append(f"v = obj[{k}]")
            general = [  # (the operation does it all: a value that is not a string, or a result that is not one)
                f"new = O{i}(v, run, obj)",
                "if new is not NOCHANGE:",
                f"    obj[{k}] = v = new",
                "if v is None:",
                f"    del obj[{k}]",
                "elif v.__class__ is not str and isinstance(v, CONTAINERS):",
                "    prune(v)",
                "    if not v:",
                f"        del obj[{k}]",
            ]
            inline = getattr(ep.op, "inline", None)
            if inline is not None and inline[2] is not None:  # a date shift: a planned value shifted here
                bound[f"C{i}"], ids, index = inline
                bound[f"I{i}"] = ids[PERTURB]  # (the op logs this id for the same values)
                offsets[index] = offsets.get(index, 0) + 1
                # (Run.offset_value, inlined: see below; shift_planned, inlined: a day date has)
                body += [f"if v.__class__ is str and (p := C{i}.get(v)) is not None and 0 < (d := p[0] + ({{OFFSET{index}}})) <= LAST:",
                         "    run.volatile += 1", f"    log.append(I{i})", f"    obj[{k}] = isoformat(fromordinal(d)) + p[1]",
                         "elif v.__class__ is list:", f"    _key(obj, {k}, v, plan, run)",
                         "else:", *("    " + line for line in general)]  # fmt: skip
                bound.update(LAST=MAX_ORDINAL, isoformat=date.isoformat, fromordinal=date.fromordinal)
            elif inline is not None:  # a memoised value operation: looked up here, a miss computed here
                bound[f"C{i}"], bound[f"I{i}"], _, bound[f"F{i}"], bound[f"X{i}"] = inline
                body += ["if v.__class__ is str and v:", f"    f = C{i}.get(v)", "    if f is None:", "        try:",
                         f"            f = F{i}(v)", "        except VALUE_FAILURES as exc:",
                         f"            raise X{i}(exc) from None", "    if (new := f[0]).__class__ is str:",
                         f"        log.append(I{i}[f[1]])", f"        obj[{k}] = new", "    else:",
                         *("        " + line for line in general),
                         "elif v.__class__ is list:", f"    _key(obj, {k}, v, plan, run)",
                         "else:", *("    " + line for line in general)]  # fmt: skip
                bound["VALUE_FAILURES"] = VALUE_FAILURES
            else:
                body += ["if v.__class__ is list:", f"    _key(obj, {k}, v, plan, run)",
                         "else:", *("    " + line for line in general)]  # fmt: skip
            continue
        if ep is None and kp.guards and not kp.primitive and not kp.is_resource and not kp.holder_only:
            # A complex element whose plan depends on its value (a where() or extension('url') guard): the plan
            # for this value, then the shape of its object when the plan has no operation on it (_key, inlined).
            bound[f"E{i}"] = kp.element
            drop = [] if root and key == "meta" else ["    if not v:", f"        del obj[{k}]"]
            body += [f"v = obj[{k}]", f"if v.__class__ is dict and (e := E{i}(v)).op is None:",
                     "    s = e.sub", "    (s.shapes.get(k := tuple(v)) or _shape(s, k, NAMESPACE))(v, run)", *drop,
                     "else:", f"    _key(obj, {k}, v, plan, run)"]  # fmt: skip
            continue
        body.append(f"_key(obj, {k}, obj[{k}], plan, run)")
    bound.update(dumps=dumps, loads=loads, JSONEncodeError=JSONEncodeError)
    preamble = [f"o{index} = None" for index in sorted(offsets) if offsets[index] > 1]
    if any("log." in line or "log +=" in line for line in body):
        preamble.append("log = run.log")
    if any(" shared " in line for line in body):
        preamble.append("shared = run.shared")
    body[:0] = preamble
    for index, count in offsets.items():  # the offset a date rule sees: read once per call when read twice
        read = (
            f"run.late if run.late is not None and (run.early_until is None or run.early_until < {index})"
            f" else run.offset_value({index})"
        )
        expression = f"(o{index} if o{index} is not None else (o{index} := {read}))" if count > 1 else read
        body = [line.replace(f"{{OFFSET{index}}}", expression) for line in body]
    names = sorted(bound)
    source = "\n".join(
        [f"def factory({', '.join(names)}):", "    def shape(obj, run):"]
        + [f"        {line}" for line in body or ["pass"]]
        + ["    return shape"]
    )
    scope: dict[str, Any] = {}
    exec(compile(source, f"<shape {plan.type_path}>", "exec"), scope)  # noqa: S102 - plan structure only
    fn: ShapeFn = scope["factory"](*(bound[name] for name in names))
    return fn


def _memoised(sub: str, var: str, target: str, plan: ObjPlan, indent: str) -> list[str]:
    """Lines that look ``var`` up in the memo of ``sub`` (a hit: inline) or else call ``_walk_memoised``.

    The same steps as :func:`anonymizer.engine.compiled.walk._walk_memoised` on a hit; a miss goes to it with the
    value's JSON text (``None`` for a value JSON cannot write), and it records the result.
    """
    # meta is changed later (labels): never shared
    result = "loads(out)" if plan.fhir_type == "Meta" else "result if shared else loads(out)"
    lines = [
        f"m = {sub}.memo",
        "if m is not None:",
        "    try:",
        f"        out, entries, result = m[b := dumps({var})]",
        "    except KeyError:",  # a miss (rare once warm): its JSON text is the key _walk_memoised records
        "        out = MISS",  # (handled outside: no exception raised below may carry the key as context)
        "    except JSONEncodeError:",  # a value JSON cannot write
        "        out = MISS",
        "        b = None",
        "    if out is MISS:",
        f"        {target} = _walk_memoised({var}, {sub}, run, b)",
        "    else:",
        f"        {sub}.memo_hits += 1",
        "        if entries:",
        "            log += entries",
        "        if out is not None:",
        f"            {target} = {result}",
        "else:",  # the memo was dropped: the shape's walk (_walk, inlined)
        f"    ({sub}.shapes.get(k := tuple({var})) or _shape({sub}, k, NAMESPACE))({var}, run)",
    ]
    return [indent + line for line in lines]
