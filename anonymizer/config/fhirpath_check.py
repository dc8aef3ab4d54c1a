"""Compile-time check of FHIRPath expressions in a config (syntax and known function names).

fhirpathpy's own ``parse`` swallows syntax errors (ANTLR's default listener); this check uses its generated
lexer and parser with a raising listener, requires the whole text to be consumed, and rejects functions
that neither fhirpathpy nor Microsoft's custom ``nodesByType``/``nodesByName`` define.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from anonymizer.errors import AnonymizerError

#: Microsoft's custom functions, evaluated by our engine.
CUSTOM_FUNCTIONS = frozenset({"nodesByType", "nodesByName"})


class FhirPathSyntaxError(AnonymizerError, ValueError):
    """The expression does not compile."""


@lru_cache(maxsize=4096)
def check_fhirpath(expression: str) -> None:
    """Raise :class:`FhirPathSyntaxError` when ``expression`` does not compile."""
    from antlr4 import CommonTokenStream, InputStream, Token
    from antlr4.error.ErrorListener import ErrorListener
    from antlr4.tree.Tree import ParseTreeWalker
    from fhirpathpy.parser.ASTPathListener import ASTPathListener
    from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
    from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

    class _Raise(ErrorListener):
        def syntaxError(
            self, recognizer: Any, offending: Any, line: int, column: int, msg: str, e: Any
        ) -> None:
            raise FhirPathSyntaxError(f"syntax error at column {column}: {msg}")

    if not expression.strip():
        raise FhirPathSyntaxError("empty expression")
    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Raise())
    tokens = CommonTokenStream(lexer)
    parser = FHIRPathParser(tokens)
    parser.removeErrorListeners()
    parser.addErrorListener(_Raise())
    tree = parser.expression()
    if tokens.LA(1) != Token.EOF:
        raise FhirPathSyntaxError(f"unexpected text at column {tokens.LT(1).start}")
    listener = ASTPathListener()
    ParseTreeWalker().walk(listener, tree)
    unknown = sorted(_function_names(listener.parentStack[0]) - _known_functions())
    if unknown:
        raise FhirPathSyntaxError(f"unknown function {unknown[0]}()")


@lru_cache(maxsize=1)
def _known_functions() -> frozenset[str]:
    from fhirpathpy.engine.invocations import invocation_registry

    return frozenset(invocation_registry) | CUSTOM_FUNCTIONS


def _function_names(node: Any) -> set[str]:
    names: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, dict):
            continue
        if current.get("type") == "Functn":
            for child in current.get("children", []):
                if isinstance(child, dict) and child.get("type") == "Identifier":
                    names.update(t.strip("`") for t in child.get("terminalNodeText", []))
                    break
        stack.extend(current.get("children", []))
    return names
