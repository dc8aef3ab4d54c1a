"""Free-text scrubbing benchmark: recall per category, over-removal and speed (MB/s, s per MB).

Labelled set: every clinical note of the 10-patient Synthea sample (base64 ``text/plain`` in
``DocumentReference.content.attachment.data``; gold = the patient's name words, the visit date, ages over
89) with one planted sentence per note holding identifiers in varied written forms (dates, phones, fax,
e-mails, URLs, IPs, SSNs, MRN/account numbers, ZIPs, street addresses, ages over 89), generated with a fixed seed.

Detectors compared:
  ours-patterns   anonymizer.text.patterns.find_patterns (no patient context)
  ours-full       TextScrubber with the patient's PatientIdentifiers (contextual + patterns)
  presidio        presidio-analyzer's predefined recognizers that need no NLP model (every
                  PatternRecognizer plus the phonenumbers-based PhoneRecognizer), score threshold 0

A gold span counts as found when every one of its characters is covered by some detection (any label:
what matters for de-identification is that the text is gone). "over-removal" is the share of non-gold
characters that a detector removes (clinical text destroyed).

Times are CPU seconds of this process (``time.process_time``), best of ``--repeat``, so that a machine
shared with other jobs still gives comparable figures; one core.

With the shipped keep-notes profile (``--config``, default configs/hipaa-safe-harbor-keep-notes.json), on the
original notes (no planted sentences): the share of characters kept by the config's ``scrubText`` rule for
``Attachment.data`` (`anonymizer.engine.kernel.scrub.rule_scrubber`, i.e. the engine's own scrubber: dates to the year),
the leak count of the engine's output notes (verify's harvest of the whole sample against verify's match keys
of the decoded notes), and the cost per MB: ``scrub_attachment`` alone, and the engine on every
DocumentReference with this config minus the same with configs/hipaa-safe-harbor.json (which deletes the notes).

Run:  .venv/bin/python bench/text_bench.py [--notes N] [--repeat R] [--json out.json]
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from anonymizer.engine import Anonymizer
from anonymizer.engine.kernel.scrub import clear_caches, rule_scrubber
from anonymizer.fhir.patient import patient_id
from anonymizer.text import PatientIdentifiers, TextScrubber, collect_identifiers
from anonymizer.text.formats import scrub_attachment
from anonymizer.text.patterns import find_patterns
from anonymizer.verify.candidates import resource_candidates
from anonymizer.verify.harvest import harvest_resource

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "synthea-10-patients"
KEEP_NOTES = REPO / "configs" / "hipaa-safe-harbor-keep-notes.json"
STRICT = REPO / "configs" / "hipaa-safe-harbor.json"
AS_OF = date(2026, 1, 1)
ATTACHMENT_RULE = "nodesByType('Attachment').data"
CATEGORIES = ("NAME", "DATE", "PHONE", "EMAIL", "URL", "IP", "SSN", "ID", "ZIP", "ADDRESS", "AGE")

Span = tuple[int, int]


@dataclass
class Doc:
    """One labelled text: gold spans by category, and the patient's identifiers."""

    text: str
    ids: PatientIdentifiers
    gold: list[tuple[int, int, str]] = field(default_factory=list)
    note_len: int = 0  # length of the original note (before the planted sentence)


# ---------------------------------------------------------------- labelled set


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _date_forms(rng: random.Random) -> str:
    y, m, d = rng.randint(1925, 2022), rng.randint(1, 12), rng.randint(1, 28)
    month = _MONTHS[m - 1]
    suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(d, "th")
    return rng.choice(
        [
            f"{month} {d}{suffix}, {y}",
            f"{d} {month} {y}",
            f"{m:02d}/{d:02d}/{y}",
            f"{m}/{d}/{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{month[:3]} {d}, {y}",
            f"{d:02d}-{month[:3]}-{y}",
            f"{month.upper()} {d}, {y}",
        ]
    )


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def _phone(rng: random.Random) -> str:
    a, b, c = f"{rng.randint(201, 989)}", f"{rng.randint(200, 999)}", _digits(rng, 4)
    return rng.choice(
        [f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"{a} {b} {c}", f"+1 {a} {b} {c}", f"{a}{b}{c}"]
    )


_STREETS = [
    "Quenton Crossing",
    "Birch Hollow Road",
    "Abernathy Landing",
    "Maple Avenue",
    "Kling Street",
    "Oak Ridge Drive",
]
_CITIES = [("Emporia", "KS"), ("Topeka", "Kansas"), ("Olathe", "KS"), ("Wichita", "KS")]
_WORDS = ["alpha", "kessler", "jones", "moreno", "lee", "okafor"]


def _planted(rng: random.Random) -> list[tuple[str, str | None]]:
    """A planted sentence as (text, category or None for filler) pieces."""
    kinds = rng.sample(
        ["PHONE", "FAX", "EMAIL", "URL", "IP", "SSN", "ID", "ZIP", "ADDRESS", "DATE", "AGE"], 5
    )
    pieces: list[tuple[str, str | None]] = [("\nAddendum: ", None)]
    for kind in kinds:
        if kind == "PHONE":
            pieces += [("call back at ", None), (_phone(rng), "PHONE")]
        elif kind == "FAX":
            pieces += [("fax: ", None), (_phone(rng), "PHONE")]
        elif kind == "EMAIL":
            user = f"{rng.choice(_WORDS)}.{rng.choice(_WORDS)}{rng.randint(1, 99)}"
            pieces += [
                ("e-mail ", None),
                (f"{user}@{rng.choice(['example.org', 'mail.example.net'])}", "EMAIL"),
            ]
        elif kind == "URL":
            url = rng.choice(
                [
                    f"https://portal.example.org/patient/{_digits(rng, 6)}",
                    f"www.kshealth{rng.randint(1, 9)}.org/records",
                ]
            )
            pieces += [("portal ", None), (url, "URL")]
        elif kind == "IP":
            ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
            pieces += [("login from ", None), (ip, "IP")]
        elif kind == "SSN":
            d = f"999{_digits(rng, 6)}"
            form = rng.choice([f"{d[:3]}-{d[3:5]}-{d[5:]}", f"{d[:3]} {d[3:5]} {d[5:]}"])
            pieces += [("SSN ", None), (form, "SSN")]
        elif kind == "ID":
            label, value = rng.choice(
                [
                    ("MRN: ", f"{rng.choice('ABKM')}{_digits(rng, 7)}"),
                    ("medical record number ", f"{_digits(rng, 2)}-{_digits(rng, 3)}-{_digits(rng, 3)}"),
                    ("account no. ", f"{_digits(rng, 4)}-{_digits(rng, 4)}"),
                    ("member ID ", f"XJ{_digits(rng, 6)}"),
                    ("driver's license number ", f"S{_digits(rng, 8)}"),
                ]
            )
            pieces += [(label, None), (value, "ID")]
        elif kind == "ZIP":
            city, state = rng.choice(_CITIES)
            zip_code = rng.choice([f"66{_digits(rng, 3)}", f"66{_digits(rng, 3)}-{_digits(rng, 4)}"])
            pieces += [("moved to ", None), (city, "ADDRESS"), (f", {state} ", None), (zip_code, "ZIP")]
        elif kind == "ADDRESS":
            pieces += [("lives at ", None), (f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}", "ADDRESS")]
        elif kind == "DATE":
            pieces += [("seen ", None), (_date_forms(rng), "DATE")]
        elif kind == "AGE":
            age = rng.randint(90, 104)
            form = rng.choice(
                [f"{age}-year-old", f"{age} year old", f"{age} y/o", f"aged {age}", f"{age} yo"]
            )
            pieces += [("the ", None)]
            n = form.index(str(age))
            pieces += [(form[:n], None), (str(age), "AGE"), (form[n + len(str(age)) :], None)]
        pieces.append(("; ", None))
    pieces.append(("end of addendum.\n", None))
    return pieces


_AGE_IN_NOTE = re.compile(r"\b(\d{2,3}) year-old")


def build_labelled_set(limit: int | None = None, seed: int = 8) -> list[Doc]:
    """The notes of the 10-patient sample with gold spans, each with one planted sentence appended."""
    rng = random.Random(seed)
    patients = {}
    for line in (SAMPLE / "Patient.000.ndjson").read_bytes().splitlines():
        p = orjson.loads(line)
        patients[p["id"]] = collect_identifiers([p])
    docs: list[Doc] = []
    for line in (SAMPLE / "DocumentReference.000.ndjson").read_bytes().splitlines():
        if limit is not None and len(docs) >= limit:
            break
        raw = orjson.loads(line)
        ids = patients[raw["subject"]["reference"].split("/", 1)[1]]
        note = base64.b64decode(raw["content"][0]["attachment"]["data"]).decode("utf-8")
        doc = Doc(note, ids, note_len=len(note))
        if ids.name_tokens:
            words = "|".join(re.escape(t) for t in sorted(ids.name_tokens, key=len, reverse=True))
            run = rf"(?<!\w)(?:{words})(?:\s+(?:{words}))*(?!\w)"  # "Given Family" is one name
            for m in re.finditer(run, note, re.IGNORECASE):
                doc.gold.append((m.start(), m.end(), "NAME"))
        first = re.match(r"\s*(\d{4}-\d{2}-\d{2})", note)
        if first:
            doc.gold.append((first.start(1), first.end(1), "DATE"))
        for m in _AGE_IN_NOTE.finditer(note):
            if int(m.group(1)) > 89:
                doc.gold.append((m.start(1), m.end(1), "AGE"))
        pos = len(doc.text)
        for text, category in _planted(rng):
            if category:
                doc.gold.append((pos, pos + len(text), category))
            doc.text += text
            pos += len(text)
        docs.append(doc)
    return docs


# Forms the patterns were NOT written for (kept here to show the limits honestly).
HARD_FORMS: list[tuple[str, str, str]] = [
    ("DATE", "Seen on {}.", "the third of March, 1961"),
    ("DATE", "Seen on {} again.", "March the 3rd"),
    ("DATE", "Seen on {} again.", "03Mar1961"),
    ("DATE", "DOB {} noted.", "3.III.1961"),
    ("PHONE", "Call {} now.", "555 3428876"),
    ("PHONE", "Call {} now.", "555-342-88-76"),
    ("PHONE", "Call {} now.", "(555)3428876"),
    ("EMAIL", "Write to {} now.", "evie dot bart at example dot net"),
    ("URL", "Portal {} now.", "example.org/patient/123"),
    ("AGE", "A {}-year-old woman.", "ninety-two"),
    ("AGE", "A {}yrs old woman.", "93"),
    ("AGE", "She is {} today.", "93"),
    ("ID", "Chart {} reviewed.", "#A-4471-2210"),
    ("ID", "Chart number {} reviewed.", "4471220"),
    ("ADDRESS", "Lives at {} now.", "4417 Quenton Xing"),
    ("ADDRESS", "Lives at {} now.", "Apt 4B, 12 Main St"),
    ("ZIP", "Mail to zip {} now.", "66801"),
    ("SSN", "SS# {} on file.", "999724410"),
    ("IP", "From {} today.", "2001:db8::7334"),
]


def build_hard_set() -> list[Doc]:
    """One short text per form in `HARD_FORMS`, no patient context."""
    docs = []
    for category, template, value in HARD_FORMS:
        text = template.format(value)
        start = template.index("{}")
        docs.append(Doc(text, PatientIdentifiers(), [(start, start + len(value), category)]))
    return docs


def hard_form_results(detectors: list[tuple[str, Callable[[Doc], list[Span]]]]) -> list[dict[str, object]]:
    """Per form: which detector covers it entirely."""
    rows = []
    for doc, (category, _, value) in zip(build_hard_set(), HARD_FORMS, strict=True):
        start, end, _ = doc.gold[0]
        row: dict[str, object] = {"category": category, "form": value, "text": doc.text}
        for name, detect in detectors:
            row[name] = all(_covered(detect(doc), len(doc.text))[start:end])
        rows.append(row)
    return rows


# ---------------------------------------------------------------- detectors


def ours_patterns(doc: Doc) -> list[Span]:
    return [(m.start, m.end) for m in find_patterns(doc.text)]


_SCRUBBER = TextScrubber()


def ours_full(doc: Doc) -> list[Span]:
    return [(r.start, r.end) for r in _SCRUBBER.replacements(doc.text, doc.ids)]


def presidio_detector() -> Callable[[Doc], list[Span]] | None:
    """Presidio's model-free recognizers, or None when presidio-analyzer is not installed."""
    try:
        import tldextract
        from presidio_analyzer import PatternRecognizer, RecognizerRegistry
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer
    except ImportError:
        return None
    # offline: the e-mail recognizer's tldextract would fetch the public suffix list; use its bundled copy
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"])
    recognizers = [r for r in registry.recognizers if isinstance(r, PatternRecognizer | PhoneRecognizer)]

    def detect(doc: Doc) -> list[Span]:
        spans: list[Span] = []
        for rec in recognizers:
            for res in rec.analyze(doc.text, rec.supported_entities, None) or []:
                spans.append((res.start, res.end))
        return spans

    return detect


# ---------------------------------------------------------------- scoring


def _covered(spans: list[Span], length: int) -> bytearray:
    mask = bytearray(length)
    for start, end in spans:
        mask[start:end] = b"\x01" * (end - start)
    return mask


def evaluate(
    name: str, detect: Callable[[Doc], list[Span]], docs: list[Doc], repeat: int
) -> dict[str, object]:
    """Recall per category, over-removal and best-of-``repeat`` speed of one detector."""
    found = {c: 0 for c in CATEGORIES}
    total = {c: 0 for c in CATEGORIES}
    over = non_gold = 0
    results = [detect(d) for d in docs]
    for doc, spans in zip(docs, results, strict=True):
        mask = _covered(spans, len(doc.text))
        gold_mask = _covered([(s, e) for s, e, _ in doc.gold], len(doc.text))
        for start, end, category in doc.gold:
            total[category] += 1
            found[category] += all(mask[start:end])
        non_gold += gold_mask.count(0)
        over += sum(1 for m, g in zip(mask, gold_mask, strict=True) if m and not g)
    size_mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for doc in docs:
            detect(doc)
        best = min(best, time.process_time() - t0)
    recall = {c: (found[c] / total[c] if total[c] else None) for c in CATEGORIES}
    all_found, all_total = sum(found.values()), sum(total.values())
    return {
        "detector": name,
        "recall": recall,
        "gold": total,
        "recall_all": all_found / all_total,
        "over_removal": over / non_gold if non_gold else 0.0,
        "mb": size_mb,
        "mb_per_s": size_mb / best,
        "s_per_mb": best / size_mb,
    }


def bench_anonymizer(config: Path) -> Anonymizer:
    """The config with throw-away literal keys (text results do not depend on them)."""
    raw = json.loads(config.read_text())
    keys = {"dateShiftKey": "bench", "cryptoHashKey": "bench", "encryptKey": "0123456789abcdef"}
    raw["parameters"] = {**raw.get("parameters", {}), **keys}
    return Anonymizer.from_config(raw, as_of=AS_OF, base_dir=config.parent)


def config_scrubber(anon: Anonymizer) -> TextScrubber:
    """The scrubber the config's ``Attachment.data`` rule applies (exactly what the engine uses)."""
    rule = next(r for r in anon.config.rules if r.method == "scrubtext" and r.path == ATTACHMENT_RULE)
    return rule_scrubber(rule, anon.config.parameters, anon.as_of)


def scrub_cost(docs: list[Doc], scrubber: TextScrubber, repeat: int) -> dict[str, float]:
    """Cost of `scrub_attachment` (base64 decode, scrub, re-encode) per MB of note text, and text kept."""
    encoded = [(base64.b64encode(d.text.encode()).decode(), d.ids) for d in docs]
    size_mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    best, kept, chars = float("inf"), 0, 0
    for _ in range(repeat):
        kept = chars = 0
        t0 = time.process_time()
        for data, ids in encoded:
            out = scrub_attachment(scrubber, "text/plain; charset=utf-8", data, ids)
            assert out is not None
            kept += out.result.chars_kept
            chars += out.result.chars_in
        best = min(best, time.process_time() - t0)
    return {
        "mb": size_mb,
        "s_per_mb": best / size_mb,
        "mb_per_s": size_mb / best,
        "kept_share_labelled_set": kept / chars,
    }


def _sample_lines(name: str) -> list[bytes]:
    return (SAMPLE / name).read_bytes().splitlines()


def config_figures(config: Path, repeat: int) -> dict[str, Any]:
    """Kept share, leaks and cost of the config on the sample's original notes (see the module docstring)."""
    anon, strict = bench_anonymizer(config), bench_anonymizer(STRICT)
    scrubber = config_scrubber(anon)
    ids = {p["id"]: collect_identifiers([p]) for p in map(orjson.loads, _sample_lines("Patient.000.ndjson"))}
    docs = [orjson.loads(line) for line in _sample_lines("DocumentReference.000.ndjson")]
    pairs = [(doc, ids.get(patient_id(doc) or "")) for doc in docs]
    chars_in = chars_kept = 0
    counts: dict[str, int] = {}
    outputs = []
    for doc, pid in pairs:
        out = anon.anonymize(copy.deepcopy(doc), patient_identifiers=pid)
        outputs.append(out)
        for content, written in zip(doc["content"], out["content"], strict=True):
            attachment = content["attachment"]
            scrubbed = scrub_attachment(scrubber, attachment.get("contentType"), attachment["data"], pid)
            assert scrubbed is not None and written["attachment"]["data"] == scrubbed.data, (
                "engine == scrubber"
            )
            chars_in += scrubbed.result.chars_in
            chars_kept += scrubbed.result.chars_kept
            for category, n in scrubbed.result.counts_by_category.items():
                counts[category] = counts.get(category, 0) + n
    # Leak audit as verify does it: every identifying value of the source, searched in the output notes.
    harvested = {
        (h.kind, h.norm)
        for path in sorted(SAMPLE.glob("*.ndjson"))
        for line in path.read_bytes().splitlines()
        for h in harvest_resource(orjson.loads(line))
    }

    def leaks_in(notes: list[dict[str, Any]]) -> int:
        return sum(
            len({(k, n) for k, n, path in resource_candidates(out) if path.endswith(".data")} & harvested)
            for out in notes
        )

    leaks = leaks_in(outputs)
    # Control: the same audit finds the names when the engine is not given the patient's identifiers.
    control = leaks_in([anon.anonymize(copy.deepcopy(doc)) for doc in docs])
    # Values of the note's own patient, case-insensitively, anywhere in its scrubbed text.
    own = 0
    for out, (_, pid) in zip(outputs, pairs, strict=True):
        text = base64.b64decode(out["content"][0]["attachment"]["data"]).decode().lower()
        own += sum(1 for _, value in (pid.values() if pid else ()) if value.lower() in text)

    def engine_seconds(engine: Anonymizer, items: list[tuple[dict[str, Any], Any]]) -> float:
        best = float("inf")
        for _ in range(repeat):
            batch = [(copy.deepcopy(resource), pid) for resource, pid in items]
            clear_caches()  # every repetition as cold as a Spark worker's first sight of a patient
            t0 = time.process_time()
            for resource, pid in batch:
                engine.anonymize(resource, patient_identifiers=pid)
            best = min(best, time.process_time() - t0)
        return best

    everything = [
        (resource, ids.get(patient_id(resource) or ""))
        for path in sorted(SAMPLE.glob("*.ndjson"))
        for resource in map(orjson.loads, path.read_bytes().splitlines())
    ]
    note_mb = sum(len(base64.b64decode(c["attachment"]["data"])) for d in docs for c in d["content"]) / 1e6
    with_notes, without = engine_seconds(anon, pairs), engine_seconds(strict, pairs)
    sample_with, sample_without = engine_seconds(anon, everything), engine_seconds(strict, everything)
    alone = scrub_cost(
        [
            Doc(base64.b64decode(d["content"][0]["attachment"]["data"]).decode(), p or PatientIdentifiers())
            for d, p in pairs
        ],
        scrubber,
        repeat,
    )
    return {
        "config": str(config.relative_to(REPO)),
        "notes": len(docs),
        "note_mb": note_mb,
        "chars_in": chars_in,
        "chars_kept": chars_kept,
        "kept_share": chars_kept / chars_in,
        "replaced": counts,
        "harvested_keys": len(harvested),
        "leaks": leaks,
        "leaks_without_identifiers": control,
        "own_values_left": own,
        "scrub_attachment_s_per_mb": alone["s_per_mb"],
        "engine_s_per_mb_with_config": with_notes / note_mb,
        "engine_s_per_mb_strict": without / note_mb,
        "scrubbing_s_per_mb": (with_notes - without) / note_mb,
        "sample_resources": len(everything),
        "sample_engine_s_with_config": sample_with,
        "sample_engine_s_strict": sample_without,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--notes", type=int, default=None, help="use only the first N notes (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="timing repetitions, best is reported")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument(
        "--config", type=Path, default=KEEP_NOTES, help="config for the kept share, leaks, cost"
    )
    args = parser.parse_args(argv)

    docs = build_labelled_set(args.notes)
    detectors: list[tuple[str, Callable[[Doc], list[Span]]]] = [
        ("ours-patterns", ours_patterns),
        ("ours-full", ours_full),
    ]
    presidio = presidio_detector()
    if presidio is not None:
        detectors.append(("presidio", presidio))
    rows = [evaluate(name, fn, docs, args.repeat) for name, fn in detectors]
    cost = scrub_cost(docs, _SCRUBBER, args.repeat)
    hard = hard_form_results(detectors)
    figures = config_figures(args.config, args.repeat)

    gold = rows[0]["gold"]
    assert isinstance(gold, dict)
    print(f"labelled set: {len(docs)} notes, {rows[0]['mb']:.2f} MB, gold spans {dict(gold)}")
    header = f"{'category':10}" + "".join(f"{r['detector']:>15}" for r in rows)
    print(header)
    for category in CATEGORIES:
        line = f"{category:10}"
        for r in rows:
            value = r["recall"][category]  # type: ignore[index]
            line += f"{'-' if value is None else f'{value:.1%}':>15}"
        print(line)
    print(f"{'all':10}" + "".join(f"{r['recall_all']:>15.1%}" for r in rows))
    print(f"{'over-rem.':10}" + "".join(f"{r['over_removal']:>15.3%}" for r in rows))
    print(f"{'MB/cpu-s':10}" + "".join(f"{r['mb_per_s']:>15.2f}" for r in rows))
    if presidio is None:
        print("presidio-analyzer not installed: not compared")
    print("forms the patterns were not written for (found = covered entirely):")
    for row in hard:
        marks = "  ".join(f"{name}={'yes' if row[name] else 'no'}" for name, _ in detectors)
        print(f"  {row['category']:8} {row['text']!s:42} {marks}")
    print(
        f"scrub_attachment, default scrubber, labelled set: {cost['s_per_mb']:.3f} CPU-s per MB "
        f"({cost['mb_per_s']:.2f} MB/s); {cost['kept_share_labelled_set']:.2%} of the characters kept"
    )
    f = figures
    print(
        f"{f['config']} on the {f['notes']} original notes ({f['note_mb']:.2f} MB): "
        f"{f['kept_share']:.2%} of the characters kept ({f['chars_kept']:,} of {f['chars_in']:,}; replaced "
        f"{f['replaced']}); leaks {f['leaks']} (verify's keys, {f['harvested_keys']:,} harvested; "
        f"{f['leaks_without_identifiers']:,} without the patient's identifiers), own values left {f['own_values_left']}"
    )
    print(
        f"  cost per MB of note text: scrub_attachment {f['scrub_attachment_s_per_mb']:.3f} CPU-s; engine on "
        f"DocumentReference {f['engine_s_per_mb_with_config']:.3f} CPU-s with the config vs "
        f"{f['engine_s_per_mb_strict']:.3f} with hipaa-safe-harbor.json: scrubbing {f['scrubbing_s_per_mb']:.3f}"
    )
    print(
        f"  engine on all {f['sample_resources']:,} resources of the sample: {f['sample_engine_s_with_config']:.2f} "
        f"CPU-s with the config vs {f['sample_engine_s_strict']:.2f} with hipaa-safe-harbor.json"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "detectors": rows,
                    "scrub_cost": cost,
                    "notes": len(docs),
                    "hard_forms": hard,
                    "config": figures,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
