"""Parse the FHIRPath subset ViewDefinitions use into a small AST.

Grammar (FHIRPath N1 precedence, lowest first): ``implies``; ``or``/``xor``; ``and``; ``in``/``contains``;
``=`` ``!=`` ``~`` ``!~``; ``<`` ``<=`` ``>`` ``>=``; ``|``; ``+`` ``-`` ``&``; ``*`` ``/`` ``div`` ``mod``;
unary ``-``; invocation (``.member``, ``.fn(args)``) and indexers ``[i]``. Terms: literals (string, number,
boolean, ``@date``/``@dateTime``/``@Ttime``, ``{}``), ``%name``, ``$this``, identifiers (also back-quoted) and
function calls on the focus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from anonymizer.views.errors import ViewDefinitionError


@dataclass(frozen=True)
class Literal:
    """A literal: ``kind`` is string | integer | decimal | boolean | date | dateTime | time | empty."""

    kind: str
    value: str


@dataclass(frozen=True)
class Variable:
    """``%name`` (a constant or an environment variable such as ``%rowIndex``)."""

    name: str


@dataclass(frozen=True)
class This:
    """``$this``: the current focus."""


@dataclass(frozen=True)
class Member:
    """``source.name`` (``source`` None: a member of the focus)."""

    source: object | None
    name: str


@dataclass(frozen=True)
class Call:
    """``source.name(args)`` (``source`` None: a function of the focus); arguments stay unevaluated ASTs."""

    source: object | None
    name: str
    args: tuple[object, ...]


@dataclass(frozen=True)
class Index:
    """``source[index]``."""

    source: object
    index: object


@dataclass(frozen=True)
class Binary:
    """``left op right``."""

    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Negate:
    """Unary minus."""

    operand: object


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>@T?[0-9][0-9:T.+\-Z]*)
  | (?P<number>[0-9]+(?:\.[0-9]+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)
  | (?P<special>[%$][A-Za-z_][A-Za-z0-9_]*|%`[^`]+`|%'[^']+')
  | (?P<op><=|>=|!=|!~|[-+*/&|=~<>().,\[\]{}])
    )""",
    re.X,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/"}
_LEVELS: tuple[tuple[str, ...], ...] = (
    ("implies",),
    ("or", "xor"),
    ("and",),
    ("in", "contains"),
    ("=", "!=", "~", "!~"),
    ("<", "<=", ">", ">="),
    ("|",),
    ("+", "-", "&"),
    ("*", "/", "div", "mod"),
)


def _unescape(body: str) -> str:
    return re.sub(
        r"\\(u[0-9a-fA-F]{4}|.)",
        lambda m: (
            chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "u" else _ESCAPES.get(m.group(1), m.group(1))
        ),
        body,
    )


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ViewDefinitionError(f"FHIRPath syntax error at position {pos} in {text!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def fail(self, what: str) -> ViewDefinitionError:
        return ViewDefinitionError(f"FHIRPath syntax error ({what}) in {self.text!r}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise self.fail(f"expected {value or 'more input'}")
        self.pos += 1
        return token

    def at_operator(self, ops: tuple[str, ...]) -> str | None:
        token = self.peek()
        if token is not None and token[0] in ("op", "ident") and token[1] in ops:
            return token[1]
        return None

    def parse(self) -> object:
        node = self.binary(0)
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def binary(self, level: int) -> object:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (op := self.at_operator(_LEVELS[level])) is not None:
            self.take()
            left = Binary(op, left, self.binary(level + 1))
        return left

    def unary(self) -> object:
        if self.at_operator(("-", "+")):
            sign = self.take()[1]
            operand = self.unary()
            return Negate(operand) if sign == "-" else operand
        return self.postfix(self.term())

    def postfix(self, node: object) -> object:
        while (token := self.peek()) is not None and token[1] in (".", "["):
            self.take()
            if token[1] == "[":
                index = self.binary(0)
                self.take("]")
                node = Index(node, index)
                continue
            kind, name = self.take()
            if kind != "ident":
                raise self.fail("expected a name after '.'")
            node = self.invocation(node, name.strip("`"))
        return node

    def invocation(self, source: object | None, name: str) -> object:
        if self.peek() == ("op", "("):
            self.take()
            args: list[object] = []
            if self.peek() != ("op", ")"):
                args.append(self.binary(0))
                while self.peek() == ("op", ","):
                    self.take()
                    args.append(self.binary(0))
            self.take(")")
            return Call(source, name, tuple(args))
        return Member(source, name)

    def term(self) -> object:
        token = self.peek()
        if token is None:
            raise self.fail("unexpected end")
        kind, value = self.take()
        if kind == "string":
            return Literal("string", _unescape(value[1:-1]))
        if kind == "number":
            return Literal("decimal" if "." in value else "integer", value)
        if kind == "datetime":
            body = value[1:]
            if body.startswith("T"):
                return Literal("time", body[1:])
            return Literal("dateTime" if "T" in body else "date", body.rstrip("T"))
        if kind == "special":
            if value == "$this":
                return This()
            if value.startswith("$"):
                raise self.fail(f"unsupported variable {value}")
            return Variable(value[1:].strip("`'"))
        if kind == "ident":
            if value in ("true", "false"):
                return Literal("boolean", value)
            return self.invocation(None, value.strip("`"))
        if value == "(":
            node = self.binary(0)
            self.take(")")
            return node
        if value == "{":
            self.take("}")
            return Literal("empty", "")
        raise self.fail(f"unexpected {value!r}")


def parse(text: str) -> object:
    """Parse one FHIRPath expression; raises :class:`ViewDefinitionError` on a syntax error."""
    if not isinstance(text, str) or not text.strip():
        raise ViewDefinitionError("empty FHIRPath expression")
    return _Parser(text).parse()
