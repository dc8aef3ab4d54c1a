"""The package's import graph: no cycles, no upward imports, small modules.

The graph is read with ``ast`` from the source (every ``import``/``from ... import`` of ``anonymizer.*``, also
the ones inside functions and under ``TYPE_CHECKING``), so a lazy import cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "anonymizer"

#: Layers from the bottom up: a package may import its own layer's packages and those below, never above.
#: (Within one layer, packages may import each other as long as no cycle forms.)
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("secrets", "fhir"),
    ("fhirpath",),
    ("methods", "text"),
    ("config",),
    ("engine",),
    ("storage", "export", "testing"),
    ("spark", "views"),
    ("verify",),
    ("pipeline",),
    ("cli",),
    ("__init__",),
)
#: Cycles known and left to the area that owns them (each with the reason); none may be added.
KNOWN_CYCLES: dict[frozenset[str], str] = {}
#: Modules allowed over ~400 lines, each with the reason (none in the engine).
LONG_MODULES: dict[str, str] = {}
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str, modules: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "anonymizer")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "anonymizer":
                continue
            # `from anonymizer.x import y`: an edge to the submodule y when it is one, else to anonymizer.x
            found.update(
                f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names
            )
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {t for t in _imports(path, name, set(modules)) if t in modules and t != name}
    return graph


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(top: str) -> int:
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"anonymizer.{top} is in no layer of LAYERS: add it")


def test_every_package_has_a_layer() -> None:
    for module in _graph():
        _layer(_top(module))


def test_no_upward_imports() -> None:
    upward = sorted(
        f"{src} -> {dst}"
        for src, targets in _graph().items()
        for dst in targets
        if _layer(_top(dst)) > _layer(_top(src))
    )
    assert not upward, "imports from a lower layer into a higher one:\n" + "\n".join(upward)


def test_no_import_cycles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def strongconnect(node: str) -> None:  # Tarjan, iterative enough for this graph's depth
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                strongconnect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 and frozenset(component) not in KNOWN_CYCLES:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_modules_are_small() -> None:
    long = {
        _module_name(p): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    unexplained = {m: n for m, n in long.items() if m not in LONG_MODULES}
    assert not unexplained, f"modules over {MAX_LINES} lines: {unexplained}"
    stale = set(LONG_MODULES) - set(long)
    assert not stale, f"LONG_MODULES lists modules that are short now: {stale}"
