"""Where pyspark is imported (docs/design.md, "Where Spark is imported"), read from the source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "anonymizer"
#: Packages that run Spark jobs (pyspark imported inside functions).
SPARK_PACKAGES = {"spark", "verify", "views"}
#: Modules outside them allowed a lazy pyspark import, with the reason.
LAZY_ELSEWHERE = {
    "secrets/databricks.py": "dbutils, only when a dbsecret: reference is resolved on Databricks"
}
#: Packages that never import pyspark, not even for type checking: the engine and what it stands on, and the rest
#: of the driver-only code.
NO_SPARK = {"errors", "secrets", "fhir", "fhirpath", "methods", "text", "config", "engine", "storage", "export",
            "testing"}  # fmt: skip


def _pyspark_imports(path: Path) -> dict[str, list[int]]:
    """Line numbers of pyspark imports by where they are: ``module`` level, ``function`` body, ``type_checking``."""
    found: dict[str, list[int]] = {"module": [], "function": [], "type_checking": []}

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = "type_checking"
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and where == "module":
                inner = "function"
            if isinstance(child, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in child.names] if isinstance(child, ast.Import) else [child.module or ""]
                )
                if any(name.split(".")[0] == "pyspark" for name in names):
                    found[inner].append(child.lineno)
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), "module")
    return found


def _modules() -> dict[str, dict[str, list[int]]]:
    return {str(p.relative_to(PACKAGE)): _pyspark_imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _top(relative: str) -> str:
    return relative.split("/")[0].removesuffix(".py")


def test_no_module_imports_pyspark_when_it_is_imported() -> None:
    at_import = {m: where["module"] for m, where in _modules().items() if where["module"]}
    assert not at_import, at_import


def test_spark_jobs_only_in_spark_verify_and_views() -> None:
    lazy = {m for m, where in _modules().items() if where["function"]}
    outside = {m for m in lazy if _top(m) not in SPARK_PACKAGES} - set(LAZY_ELSEWHERE)
    assert not outside, outside
    assert lazy & {m for m in lazy if _top(m) == "spark"}, "the scan finds nothing: is it broken?"


def test_engine_side_never_names_pyspark() -> None:
    named = {
        m: where
        for m, where in _modules().items()
        if _top(m) in NO_SPARK and m not in LAZY_ELSEWHERE and any(where.values())
    }
    assert not named, named
