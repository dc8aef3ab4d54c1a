"""The compiled SQL parses each navigated element once per row (pure Python: inspects the generated SQL)."""

from __future__ import annotations

from pathlib import Path

from anonymizer.views import parse_view
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
    assert "`code`:STRING,`valueQuantity`:STRING,`component`:STRING" in compiled.root_schema
    # code, code.coding, valueQuantity, component, component.code, component.code.coding: one parse each
    # (each parse names its schema twice: the text and the empty array).
    assert compiled.root.count("from_json(") == 2 * 6


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
    assert "from_json" not in compiled.root  # code is read as JSON text (the column), so code.coding is too
    assert "`code`:STRING" in compiled.root_schema
