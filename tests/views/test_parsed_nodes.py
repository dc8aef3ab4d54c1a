"""The compiled SQL parses each navigated element once per row (pure Python: inspects the generated SQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from anonymizer.views import ViewEvaluationError, evaluate, parse_view
from anonymizer.views.cardinality import generate, repeats
from anonymizer.views.materialize import load_views
from anonymizer.views.rows_sql import RowsCompiler

ROOT = Path(__file__).resolve().parents[2]


def test_starter_views_parse_objects_only_in_the_root_tree() -> None:
    for view in load_views([str(ROOT / "views")]):
        if view.name == "patient":  # extension() filters extensions as JSON text
            continue
        rows = RowsCompiler(view).compiled().rows
        # Rows read struct fields; the only parse left splits a primitive member's text when it is an array.
        assert "map<string,string>" not in rows and "get_json_object" not in rows, view.name
        assert rows.count("from_json(") == rows.count("'array<string>')"), view.name


def test_shared_paths_are_parsed_once() -> None:
    view = parse_view(
        {
            "resource": "Observation",
            "select": [
                {
                    "column": [
                        {"name": "system", "path": "code.coding.first().system"},
                        {"name": "code", "path": "code.coding.first().code"},
                        {"name": "unit", "path": "value.ofType(Quantity).code"},
                    ]
                },
                {"forEach": "component", "column": [{"name": "c", "path": "code.coding.code"}]},
            ],
        }
    )
    compiled = RowsCompiler(view).compiled()
    # One parse into the R4 shape: code and valueQuantity are single objects, coding and component repeat.
    coding = "`coding`:array<struct<`system`:STRING,`code`:STRING>>"
    assert f"`code`:struct<{coding}>" in compiled.root_schema
    assert "`valueQuantity`:struct<`code`:STRING>" in compiled.root_schema
    assert (
        "`component`:array<struct<`code`:struct<`coding`:array<struct<`code`:STRING>>>>>"
        in compiled.root_schema
    )
    # Only a resource that does not have that shape is parsed again: the resource once per root key read
    # (resourceType, id, code, valueQuantity, component: not bound to a lambda variable, which would cost the
    # analyzer a pass), then each node's text (code, code.coding, valueQuantity, component, component.code,
    # component.code.coding; each parse names its schema twice: the text and the empty array), the text of a
    # single node twice (code, valueQuantity, component.code: its elements are counted, several are an error),
    # and each single primitive read (code.coding's system and code, valueQuantity's code, component.code.coding's
    # code) once, as an array, when its text starts like one.
    assert compiled.root.count("from_json(_resource") == 5 + 2
    assert compiled.root.count("from_json(") == (5 + 2) + 2 * 6 + 2 * 3 + 4
    assert compiled.suspect.count("left(") == 4


def test_an_element_needed_as_text_is_not_parsed() -> None:
    view = parse_view(
        {
            "resource": "Observation",
            "select": [
                {
                    "column": [
                        {"name": "code_json", "path": "code"},
                        {"name": "n", "path": "code.coding.count()"},
                    ]
                }
            ],
        }
    )
    compiled = RowsCompiler(view).compiled()
    # code is read as JSON text (the column), so code.coding is too
    assert "`code`:STRING" in compiled.root_schema and "coding" not in compiled.root_schema


def test_a_node_read_without_keys_is_parsed_not_kept_as_text() -> None:
    view = parse_view(
        {"resource": "Observation", "select": [{"column": [{"name": "n", "path": "component.count()"}]}]}
    )
    assert "`component`:array<struct<`id`:STRING>>" in RowsCompiler(view).compiled().root_schema


@pytest.mark.spark
def test_a_resource_without_the_r4_shape_reads_as_with_it(spark: object) -> None:
    view = {
        "resource": "Observation",
        "select": [
            {
                "column": [
                    {"name": "id", "path": "getResourceKey()"},
                    {"name": "code", "path": "code.coding.first().code"},
                    {"name": "category", "path": "category.coding.code", "collection": True},
                    {"name": "unit", "path": "value.ofType(Quantity).code"},
                ]
            }
        ],
    }
    coding = {"coding": [{"code": "c1"}]}
    shaped = {"resourceType": "Observation", "id": "o1", "code": coding, "category": [coding]}
    shaped["valueQuantity"] = {"code": "mg"}
    # code and valueQuantity as arrays, category and coding as single objects: not R4, but readable.
    unshaped = {"resourceType": "Observation", "id": "o2", "code": [{"coding": {"code": "c1"}}]}
    unshaped |= {"category": {"coding": {"code": "c1"}}, "valueQuantity": [{"code": "mg"}]}
    rows = evaluate(view, [shaped, unshaped], spark=spark)  # type: ignore[arg-type]
    assert rows == [
        {"id": "o1", "code": "c1", "category": ["c1"], "unit": "mg"},
        {"id": "o2", "code": "c1", "category": ["c1"], "unit": "mg"},
    ]


def test_cardinality_table_follows_r4() -> None:
    assert repeats("CodeableConcept", "coding") and repeats("Observation", "component")
    assert repeats("Observation.component", "interpretation") and repeats(
        "Quantity", "extension"
    )  # inherited
    assert not repeats("Observation", "code") and not repeats("Observation", "valueQuantity")
    assert not repeats("Observation.component", "code") and not repeats("Claim.item", "net")
    # Primitives too: repeating ones are collections, single ones are read as one value.
    assert repeats("HumanName", "given") and repeats("Address", "line") and repeats("Meta", "profile")
    assert repeats("AllergyIntolerance", "category")  # a code whose values the definitions spell out
    assert not repeats("Reference", "reference") and not repeats("Coding", "code")
    assert not repeats("Patient", "birthDate") and not repeats("Observation", "valueString")


def test_cardinality_table_is_generated_from_type_definitions() -> None:
    definitions = "\n".join(
        [
            "export interface Observation extends DomainResource {",
            "  code: CodeableConcept;",
            "  component?: ObservationComponent[] | undefined;",
            "  _status?: Element | undefined;",
            "  note?: string[] | undefined;",
            "  status: ('registered'|'final');",
            "}",
            "export interface ObservationComponent extends BackboneElement {",
            "  interpretation?: CodeableConcept[] | undefined;",
            "  dayOfWeek?: Array<'mon'|'tue'> | undefined;",
            "}",
        ]
    )
    assert generate(definitions) == [
        "Observation.component",
        "Observation.component.dayOfWeek",
        "Observation.component.interpretation",
        "Observation.note",
    ]


SINGLE_VALUED = {
    "resource": "Observation",
    "select": [
        {
            "column": [
                {"name": "id", "path": "getResourceKey()"},
                {"name": "status", "path": "status"},
                {"name": "system", "path": "code.coding.first().system"},
                {"name": "category", "path": "category[0].coding.first().code"},
                {"name": "year", "path": "issued.substring(0, 4).toInteger()", "type": "integer"},
            ]
        },
        {"forEach": "component", "column": [{"name": "unit", "path": "code.coding.first().code"}]},
    ],
}


def test_single_valued_columns_from_one_element_need_no_lambda() -> None:
    rows = RowsCompiler(parse_view(SINGLE_VALUED)).compiled().rows
    body = rows.split("'unit'")[0]  # the columns before the forEach's own
    names = ("id", "status", "system", "category", "year")
    for name, following in zip(names, names[1:], strict=False):
        column = body.split(f"'{name}', ", 1)[1].split(f", '{following}', ", 1)[0]
        assert "->" not in column, name
    # ``year`` binds its one text once for the conversion to INT (which reads it several times): one lambda.
    year = body.split("'year', ", 1)[1].split("))), _p", 1)[0]  # up to the forEach's rows
    assert year.count("->") == 1
    unit = rows.split("'unit', ", 1)[1].split("))), _p", 1)[0]  # the forEach element's column
    # The element's single ``code`` is a struct field of the R4-shaped parse: its ``coding`` directly, no array.
    assert "->" not in unit and "flatten" not in unit and "((_f" in unit and ".`code`).`coding`" in unit


def test_single_primitives_given_as_arrays_are_read_as_their_one_value_and_several_are_refused(
    spark: object,
) -> None:
    """R4 gives a single primitive as one JSON value; given as an array it is its one element, several an error."""
    coding = {"coding": [{"system": ["s1", None], "code": "c1"}, {"system": "s2"}]}
    base = {
        "resourceType": "Observation",
        "code": coding,
        "category": [coding],
        "component": [{"code": coding}],
    }
    resources = [
        # A text that starts with "[" but is not a JSON array is the value as it is.
        base | {"id": "o1", "status": "[not json", "issued": ["2019-05-01"]},
        base | {"id": "o2", "status": ["final", None], "issued": "2020-01-01"},
        base | {"id": "o3", "status": [], "component": [{"code": {"coding": [{"code": ["u1"]}]}}]},
    ]
    rows = evaluate(SINGLE_VALUED, resources, spark=spark)  # type: ignore[arg-type]
    common = {"system": "s1", "category": "c1"}
    assert rows == [
        {"id": "o1", "status": "[not json", "year": 2019, "unit": "c1"} | common,
        {"id": "o2", "status": "final", "year": 2020, "unit": "c1"} | common,
        {"id": "o3", "status": None, "year": None, "unit": "u1"} | common,
    ]
    refused = [
        ("status", base | {"id": "o4", "status": ["a", "b"]}),
        ("issued", base | {"id": "o5", "issued": ["2019-05-01", "x"]}),
        ("code.coding.system", base | {"id": "o6", "code": {"coding": [{"system": ["s1", "s2"]}]}}),
        (
            "component.code.coding.code",
            base | {"id": "o7", "component": [{"code": {"coding": [{"code": ["a", "b"]}]}}]},
        ),
    ]
    for element, several in refused:
        message = f"several values in element '{element}' \\(R4 allows one\\) of resource {several['id']}"
        with pytest.raises(ViewEvaluationError, match=message):
            evaluate(SINGLE_VALUED, [several], spark=spark)  # type: ignore[arg-type]


def test_repeating_primitives_stay_collections(spark: object) -> None:
    view = {
        "resource": "Patient",
        "select": [
            {"column": [{"name": "id", "path": "id"}]},
            {"forEach": "name", "column": [{"name": "given", "path": "given", "collection": True}]},
        ],
    }
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"given": ["A", "[B]"]}, {"given": "C"}]}
    rows = evaluate(view, [patient], spark=spark)  # type: ignore[arg-type]
    assert rows == [{"id": "p1", "given": ["A", "[B]"]}, {"id": "p1", "given": ["C"]}]


REFERENCES = {
    "resourceType": "ViewDefinition",
    "resource": "Observation",
    "select": [
        {
            "column": [
                {"name": "id", "path": "getResourceKey()"},
                {"name": "patient", "path": "subject.getReferenceKey(Patient)"},
                {"name": "keys", "path": "subject.getReferenceKey()", "collection": True},
            ]
        }
    ],
}


def _with_column(path: str) -> dict[str, object]:
    return REFERENCES | {"select": [{"column": [{"name": "key", "path": path}]}]}


def test_a_single_reference_key_reads_its_one_text_without_lambdas(spark: object) -> None:
    """A single-valued reference key column of a single ``subject``: the key of its reference text directly, one
    ``aggregate`` only for a text that starts like a JSON array; same rows and errors."""
    rows = RowsCompiler(parse_view(REFERENCES)).compiled().rows
    patient = rows.split("'patient', ", 1)[1].split(", 'keys'", 1)[0]
    assert "->" not in patient and "left(" not in patient
    p1 = {"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p1"}}
    resources = [
        p1,
        # Not the R4 shape (read the shape-agnostic way, then reshaped): a subject given as a one-element array.
        {"resourceType": "Observation", "id": "o2", "subject": [{"reference": "x/Patient/p2/_history/3"}]},
        {"resourceType": "Observation", "id": "o3", "subject": {"reference": ["urn:uuid:u3"]}},
        {"resourceType": "Observation", "id": "o4"},
    ]
    out = evaluate(REFERENCES, resources, spark=spark)  # type: ignore[arg-type]
    assert [(r["id"], r["patient"], r["keys"]) for r in out] == [
        ("o1", "p1", ["p1"]),
        ("o2", "p2", ["p2"]),
        ("o3", None, ["u3"]),
        ("o4", None, []),
    ]
    assert evaluate(_with_column("subject.getReferenceKey()"), [p1], spark=spark) == [{"key": "p1"}]  # type: ignore[arg-type]
    several = {
        "resourceType": "Observation",
        "id": "o2",
        "subject": {"reference": ["Group/g1", "Patient/p2"]},
    }
    # R4 allows one reference in a Reference: several are refused, whatever the column reads of them.
    with pytest.raises(ViewEvaluationError, match="several values in element 'subject.reference'.* o2"):
        evaluate(_with_column("subject.getReferenceKey()"), [several], spark=spark)  # type: ignore[arg-type]
    both = {"resourceType": "Observation", "id": "o5", "subject": {"reference": ["Patient/a", "Patient/b"]}}
    with pytest.raises(ViewEvaluationError, match="several values in element 'subject.reference'.* o5"):
        evaluate(_with_column("subject.getReferenceKey(Patient)"), [both], spark=spark)  # type: ignore[arg-type]
    # R4 allows one subject: two are not read as a collection (either one would be a guess) but refused.
    two = {
        "resourceType": "Observation",
        "id": "o6",
        "subject": [{"reference": "Group/g1"}, {"reference": "Patient/p2"}],
    }
    with pytest.raises(ViewEvaluationError, match="several values in element 'subject'.* o6"):
        evaluate(REFERENCES, [two], spark=spark)  # type: ignore[arg-type]


def test_a_reference_key_of_one_reference_text_needs_no_lambda(spark: object) -> None:
    """``getReferenceKey`` of one element's reference: the key of its text directly, the general form otherwise."""
    view = _with_column("subject.first().getReferenceKey(Patient)")
    key = RowsCompiler(parse_view(view)).compiled().rows.split("'key', ", 1)[1]
    assert "->" not in key.split("))), 1)", 1)[0] and "aggregate(" not in key
    resources = [
        {"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p1"}},
        {"resourceType": "Observation", "id": "o2", "subject": [{"reference": "Group/g1"}]},
        {"resourceType": "Observation", "id": "o3", "subject": {"reference": ["Patient/p3", None]}},
        {"resourceType": "Observation", "id": "o4", "subject": {"display": "no reference"}},
        {"resourceType": "Observation", "id": "o5"},
    ]
    assert evaluate(view, resources, spark=spark) == [  # type: ignore[arg-type]
        {"key": "p1"},
        {"key": None},
        {"key": "p3"},
        {"key": None},
        {"key": None},
    ]
    both = {"resourceType": "Observation", "id": "o6", "subject": {"reference": ["Patient/a", "Patient/b"]}}
    with pytest.raises(ViewEvaluationError, match="several values in element 'subject.reference'.* o6"):
        evaluate(view, [both], spark=spark)  # type: ignore[arg-type]
