"""What a per-value method does at one position: chosen once per position, applied to every value there.

``redact``, ``dateShift``, ``cryptoHash``, ``encrypt`` and ``generalize`` change one primitive value, and how
they change it depends only on the rule, the element's FHIR type, its name and its parent's type (a
``postalCode``, an ``Age.value``, a ``Reference.reference``). :func:`value_op` makes that choice once and
returns a function of the value; both engines use it (the compiled plans once per position, the node-tree
engine once per position it meets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from anonymizer.config import Parameters, RuleConfig
from anonymizer.methods import crypto_hash, date_shift, encrypt, generalize, redact
from anonymizer.methods.dotnet import to_dotnet_string
from anonymizer.methods.redact import DATE_TYPES

#: Entries a memo keeps before it starts again (values repeat: references, ids, dates of one patient).
_MEMO_LIMIT = 50_000
#: Entries all the memos of one configuration's engine keep (one memo per position): all forgotten beyond it.
VALUE_CACHE_BUDGET = 200_000

#: A value not in a memo whose entries may be ``None``.
UNSEEN: Any = object()

#: ``fn(value, offset) -> (new value, operation label)``; ``offset`` is called only by date shifting.
ValueFn = Callable[[Any, Callable[[], int]], tuple[Any, str]]


@dataclass(frozen=True)
class Position:
    """Where an element is: its FHIR type, element name and its parent's FHIR type."""

    fhir_type: str
    name: str
    parent_type: str


class ValueCaches:
    """The value memos of one :class:`OpSettings` (one engine), bounded together by :data:`VALUE_CACHE_BUDGET`."""

    __slots__ = ("used", "caches", "shared")

    def __init__(self) -> None:
        self.used = 0
        self.caches: list[dict[Any, Any]] = []
        #: value functions whose result depends only on the value (and these settings), made once and used at
        #: every position: one memo for all of them (see :func:`_crypto_hash`)
        self.shared: dict[Any, ValueFn] = {}

    def __repr__(self) -> str:
        return f"ValueCaches(memos={len(self.caches)}, entries={self.used})"

    def __reduce__(self) -> tuple[type[ValueCaches], tuple[()]]:
        return (ValueCaches, ())  # pickled empty: the memos belong to the engine, rebuilt after unpickling

    def new(self) -> dict[Any, Any]:
        """A new memo counted in this budget."""
        cache: dict[Any, Any] = {}
        self.caches.append(cache)
        return cache

    def added(self) -> None:
        """One entry was added to one of the memos (all are cleared beyond the budget)."""
        self.used += 1
        if self.used > VALUE_CACHE_BUDGET:
            self.clear()

    def clear(self) -> None:
        """Forget every entry of every memo (for callers that count ``used`` themselves: :meth:`added`)."""
        for cache in self.caches:
            cache.clear()
        self.used = 0


@dataclass(frozen=True)
class OpSettings:
    """What the per-value methods need from the configuration (keys already resolved)."""

    params: Parameters
    as_of: date
    date_shift_key: str
    crypto_hash_key: str
    encrypt_key: str
    resource_types: frozenset[str]
    #: the memos of the value functions made with these settings (bounded together)
    caches: ValueCaches = field(default_factory=ValueCaches, compare=False, repr=False)

    def __repr__(self) -> str:  # keys never shown
        return f"OpSettings(as_of={self.as_of})"


def value_op(rule: RuleConfig, pos: Position, settings: OpSettings) -> ValueFn | None:
    """The change ``rule`` makes to a primitive value at ``pos`` (``None``: its method is not a per-value one).

    The engines call it for non-empty values (``generalize``: for every value but ``None``).
    """
    method = rule.method
    if method == "generalize":
        return _generalize(rule, pos)
    if method == "redact":
        return _redact(pos, settings)
    if method == "dateshift":
        return _date_shift(pos, settings) if pos.fhir_type in DATE_TYPES else None
    if method == "cryptohash":
        if rule.extra.get("hashFormat", "hex") == "dicomUid":
            key = settings.crypto_hash_key
            return _memo(
                lambda v: (crypto_hash.hash_dicom_uid(to_dotnet_string(v), key), "CRYPTOHASH"),
                settings.caches,
            )
        return _crypto_hash(pos, settings)
    if method == "encrypt":
        key = settings.encrypt_key
        return lambda value, _offset: (encrypt.encrypt_value(to_dotnet_string(value), key), "ENCRYPT")
    return None


def _generalize(rule: RuleConfig, pos: Position) -> ValueFn:
    fhir_type, cases, other = pos.fhir_type, rule.cases or {}, rule.other_values

    def generalized(value: Any, _offset: Callable[[], int]) -> tuple[Any, str]:
        return generalize.generalize_value(value, fhir_type, cases, other)[1], "GENERALIZE"

    return generalized


def _memo(fn: Callable[[Any], tuple[Any, str]], caches: ValueCaches,
          of_str: Callable[[str], Any] | None = None, label: str = "") -> ValueFn:  # fmt: skip
    """``fn`` memoised on string values; ``of_str``: the new value of a string, labelled ``label`` (as ``fn``)."""
    cache: dict[Any, tuple[Any, str]] = caches.new()
    added = caches.added

    if of_str is None:

        def fill(value: str) -> tuple[Any, str]:
            """The result for a string ``value`` not in ``cache`` (recorded there)."""
            out = fn(value)
            if len(cache) >= _MEMO_LIMIT:
                cache.clear()
            cache[value] = out
            added()
            return out

    else:
        compute = of_str

        def fill(value: str) -> tuple[Any, str]:
            """The result for a string ``value`` not in ``cache`` (recorded there)."""
            out = (compute(value), label)
            if len(cache) >= _MEMO_LIMIT:
                cache.clear()
            cache[value] = out
            caches.used += 1  # (caches.added, inlined)
            if caches.used > VALUE_CACHE_BUDGET:
                caches.clear()
            return out

    def memoised(value: Any, _offset: Callable[[], int]) -> tuple[Any, str]:
        if type(value) is not str:  # 1, 1.0 and True are equal keys: only strings are cached
            return fn(value)
        out = cache.get(value)
        if out is None:
            out = fill(value)
        return out

    memoised.cache = cache  # type: ignore[attr-defined]  # read by the compiled plans' inlined lookups
    memoised.fill = fill  # type: ignore[attr-defined]  # called by them on a miss
    return memoised


def value_cache(fn: ValueFn) -> dict[Any, tuple[Any, str]] | None:
    """The memo of a value function made here (keys: string values; date shifting keeps :func:`date_plans`),
    for callers that look results up before calling ``fn``; ``None`` when ``fn`` keeps none.

    Only ``fn`` fills it (and clears it at its bound); a result found there is what ``fn`` would return.
    """
    cache: dict[Any, tuple[Any, str]] | None = getattr(fn, "cache", None)
    return cache


def _redact(pos: Position, s: OpSettings) -> ValueFn:
    p = s.params
    if pos.fhir_type in DATE_TYPES:
        fhir_type = pos.fhir_type
        return _memo(
            lambda v: (
                redact.redact_date(str(v), fhir_type, partial=p.partial_dates, as_of=s.as_of),
                "REDACT",
            ),
            s.caches,
        )
    if pos.name == "value" and pos.parent_type == "Age":
        return lambda v, _o: (redact.redact_age(v, partial=p.partial_ages), "REDACT")
    if pos.name == "postalCode":
        restricted = p.restricted_zip_prefixes
        return _memo(
            lambda v: redact.redact_postal_code(str(v), partial=p.partial_zip, restricted=restricted),
            s.caches,
        )
    return remove


def remove(_value: Any, _offset: Callable[[], int]) -> tuple[Any, str]:
    """Redaction of a plain value: it is removed."""
    return None, "REDACT"


def _date_shift(pos: Position, s: OpSettings) -> ValueFn:
    fhir_type, partial, as_of = pos.fhir_type, s.params.partial_dates, s.as_of
    # Memoised per value: what shifting it needs whatever the offset (its day's ordinal and the text after the
    # day, or None: redacted). A result depends on the resource's offset too, so it is computed each time: the
    # dates of one encounter are written in every resource of it, each with its own offset.
    plans: dict[str, tuple[int, str] | None] = s.caches.new()
    added = s.caches.added
    shift_plan, shift_planned = date_shift.shift_plan, date_shift.shift_planned

    def plan_of(value: str) -> tuple[int, str] | None:
        """The plan of a string ``value`` not in ``plans`` (recorded there)."""
        plan = shift_plan(value, as_of)
        if len(plans) >= _MEMO_LIMIT:
            plans.clear()
        plans[value] = plan
        added()
        return plan

    def shift(value: Any, offset: Callable[[], int]) -> tuple[Any, str]:
        days = offset()
        text = str(value)
        plan = plans.get(text, UNSEEN)
        if plan is UNSEEN:
            plan = plan_of(text)
        return shift_planned(text, plan, fhir_type, days, partial=partial, as_of=as_of)

    def planned(text: str, plan: tuple[int, str] | None, days: int) -> tuple[Any, str]:
        """``fn``'s result for a string whose plan is known."""
        return shift_planned(text, plan, fhir_type, days, partial=partial, as_of=as_of)

    shift.plans = plans  # type: ignore[attr-defined]  # read by the compiled plans' inlined shifts
    shift.plan_of = plan_of  # type: ignore[attr-defined]
    shift.planned = planned  # type: ignore[attr-defined]
    return shift


def date_plans(fn: ValueFn) -> dict[str, tuple[int, str] | None] | None:
    """The memo of a date-shift value function made here (string value -> its plan, see
    :func:`anonymizer.methods.date_shift.shift_plan`), for callers that shift planned values themselves;
    ``None`` for other functions. Only ``fn`` fills it (and clears it at its bound)."""
    plans: dict[str, tuple[int, str] | None] | None = getattr(fn, "plans", None)
    return plans


def _crypto_hash(pos: Position, s: OpSettings) -> ValueFn:
    # A hash depends only on the value and the key: one memo per form for every position (a reference to a
    # patient is hashed once, not once per element that holds it; an id once for its resource and its references).
    if pos.name == "reference" and pos.parent_type == "Reference":
        joinable = s.params.reference_hashing == "joinable"
        return _shared(s, ("reference", joinable), lambda: _reference_hash(s, joinable))
    return _shared(s, ("hex",), lambda: _hex_hash(s))


def _shared(s: OpSettings, name: tuple[Any, ...], make: Callable[[], ValueFn]) -> ValueFn:
    """The value function ``name`` of these settings, made by ``make`` the first time."""
    fn = s.caches.shared.get(name)
    if fn is None:
        fn = s.caches.shared[name] = make()
    return fn


def _hex_hash(s: OpSettings) -> ValueFn:
    key = s.crypto_hash_key
    try:
        hexed = crypto_hash.hex_hasher(key)
    except UnicodeEncodeError:
        return _memo(lambda v: (crypto_hash.hmac_hex(to_dotnet_string(v), key), "CRYPTOHASH"), s.caches)
    return _memo(lambda v: (hexed(to_dotnet_string(v)), "CRYPTOHASH"), s.caches, hexed, "CRYPTOHASH")


def _reference_hash(s: OpSettings, joinable: bool) -> ValueFn:
    key, types = s.crypto_hash_key, s.resource_types
    hasher = crypto_hash.hash_reference_joinable if joinable else crypto_hash.hash_reference
    try:
        crypto_hash.hex_hasher(key)
    except UnicodeEncodeError:  # a key UTF-8 cannot encode: raised per value, as the hash raises it
        return _memo(lambda v: (hasher(to_dotnet_string(v), key, types), "CRYPTOHASH"), s.caches)
    # The id inside a reference hashes as the plain values do: through their memo (an id met as a resource's
    # own id, or in a reference elsewhere, is hashed once).
    plain = _shared(s, ("hex",), lambda: _hex_hash(s))
    cache, fill = plain.cache, plain.fill  # type: ignore[attr-defined]

    def hexed(value: str) -> str:
        found = cache.get(value)
        if found is None:
            found = fill(value)
        out: str = found[0]
        return out

    of_str = crypto_hash.reference_hasher(key, types, joinable=joinable, hexed=hexed)
    # (to_dotnet_string of a string: itself)
    return _memo(lambda v: (of_str(to_dotnet_string(v)), "CRYPTOHASH"), s.caches, of_str, "CRYPTOHASH")
