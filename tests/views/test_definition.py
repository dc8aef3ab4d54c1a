"""ViewDefinition validation and the FHIRPath parser (pure Python: nothing here starts Spark)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from anonymizer.views import ViewDefinitionError, parse_view
from anonymizer.views.fhirpath_parser import Binary, Call, Index, Literal, Member, Variable, parse

BASE: dict[str, Any] = {
    "resourceType": "ViewDefinition",
    "name": "patient_demo",
    "resource": "Patient",
    "select": [{"column": [{"name": "id", "path": "getResourceKey()", "type": "string"}]}],
}


def _with(**changes: Any) -> dict[str, Any]:
    view = copy.deepcopy(BASE)
    view.update(changes)
    return view


def test_valid_view_columns_and_fingerprint() -> None:
    view = parse_view(
        _with(
            select=[
                {
                    "column": [{"name": "a", "path": "id"}],
                    "select": [{"forEach": "name", "column": [{"name": "b", "path": "family"}]}],
                },
                {
                    "unionAll": [
                        {"column": [{"name": "c", "path": "'x'"}]},
                        {"column": [{"name": "c", "path": "'y'"}]},
                    ]
                },
            ]
        )
    )
    assert [c.name for c in view.columns()] == ["a", "b", "c"]
    assert parse_view(_with()).fingerprint == parse_view(copy.deepcopy(_with())).fingerprint
    assert parse_view(_with()).fingerprint != parse_view(_with(name="other")).fingerprint
    assert len(view.fingerprint) == 64


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"resource": None}, "no resource type"),
        ({"resource": "NotAType"}, "unknown resource type"),
        ({"select": []}, "at least one select"),
        ({"name": "1bad"}, "not a valid SQL name"),
        ({"select": [{"column": [{"name": "_x", "path": "id"}]}]}, "not a valid SQL name"),
        (
            {"select": [{"column": [{"name": "a", "path": "id"}, {"name": "a", "path": "gender"}]}]},
            "more than once",
        ),
        (
            {"select": [{"forEach": "name", "repeat": ["item"], "column": [{"name": "a", "path": "id"}]}]},
            "at most one",
        ),
        ({"select": [{"forEach": 1, "column": [{"name": "a", "path": "id"}]}]}, "FHIRPath string"),
        ({"select": [{"column": [{"name": "a", "path": "name.where("}]}]}, "syntax"),
        (
            {"select": [{"column": [{"name": "a", "path": "name.frobnicate()"}]}]},
            "unsupported FHIRPath function",
        ),
        ({"select": [{"column": [{"name": "a", "path": "%missing"}]}]}, "undefined constant"),
        ({"select": [{"column": [{"name": "a", "path": "id", "collection": "yes"}]}]}, "collection"),
        ({"constant": [{"name": "c"}]}, "exactly one value"),
        ({"constant": [{"name": "c", "valueQuantity": {}}]}, "unsupported type"),
        (
            {
                "select": [
                    {
                        "unionAll": [
                            {"column": [{"name": "a", "path": "id"}]},
                            {"column": [{"name": "b", "path": "id"}]},
                        ]
                    }
                ]
            },
            "same column names",
        ),
        (
            {
                "select": [
                    {
                        "unionAll": [
                            {"column": [{"name": "a", "path": "id", "type": "string"}]},
                            {"column": [{"name": "a", "path": "id", "type": "integer"}]},
                        ]
                    }
                ]
            },
            "same column types",
        ),
    ],
)
def test_invalid_views_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ViewDefinitionError, match=message):
        parse_view(_with(**change))


def test_not_an_object() -> None:
    for bad in ({}, [], "x", None):
        with pytest.raises(ViewDefinitionError):
            parse_view(bad)


def test_parser_precedence_and_terms() -> None:
    tree = parse("a.b = 'x' and c[1].d > %k or e.exists()")
    assert isinstance(tree, Binary) and tree.op == "or"
    left = tree.left
    assert isinstance(left, Binary) and left.op == "and"
    assert left.left == Binary("=", Member(Member(None, "a"), "b"), Literal("string", "x"))
    assert left.right == Binary(
        ">", Member(Index(Member(None, "c"), Literal("integer", "1")), "d"), Variable("k")
    )
    assert tree.right == Call(Member(None, "e"), "exists", ())
    assert parse("1 + 2 * 3") == Binary(
        "+", Literal("integer", "1"), Binary("*", Literal("integer", "2"), Literal("integer", "3"))
    )
    assert parse("@2020-01-02") == Literal("date", "2020-01-02")
    assert parse("@T10:00") == Literal("time", "10:00")
    assert parse("'it\\'s'") == Literal("string", "it's")
    assert parse("`div`.x") == Member(Member(None, "div"), "x")


def test_starter_views_are_valid_and_named_after_their_files(repo_root: Any) -> None:
    from anonymizer.views.materialize import load_views

    views = load_views([str(repo_root / "views")])
    names = {v.name for v in views}
    assert {"patient", "encounter", "condition", "observation", "medication_request", "procedure"} <= names
    assert {"immunization", "allergy", "diagnostic_report", "claim_line", "eob_line"} <= names
    for view in views:
        assert (repo_root / "views" / f"{view.name}.json").is_file()
        assert view.url and view.url.endswith("/" + view.name)
        assert all(c.type_uri for c in view.columns()), f"{view.name}: every column is typed (shareable)"
