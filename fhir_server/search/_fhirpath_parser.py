"""Parse the FHIRPath subset used by search parameter expressions into a small AST.

Grammar and operator precedence follow FHIRPath N1 (http://hl7.org/fhirpath/N1/#operator-precedence),
high to low: invocation ``.``/indexer ``[]``; ``* / div mod``; ``+ - &``; ``is as``; ``|``;
``< > <= >=``; ``= ~ != !~``; ``in contains``; ``and``; ``or xor``; ``implies``.
Unary minus is left out: no search expression uses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "Binary",
    "Call",
    "FhirPathSyntaxError",
    "Index",
    "Literal",
    "Member",
    "Node",
    "TypeOp",
    "Variable",
    "parse",
]


class FhirPathSyntaxError(ValueError):
    """An expression this parser cannot read."""


@dataclass(frozen=True, slots=True)
class Literal:
    """A string, boolean or number literal."""

    value: object
    type: str


@dataclass(frozen=True, slots=True)
class Variable:
    """An environment variable: ``%resource``, ``%context``, ``%ucum``..."""

    name: str


@dataclass(frozen=True, slots=True)
class Member:
    """``target.name``, or ``name`` on the current focus when ``target`` is ``None``."""

    target: Node | None
    name: str


@dataclass(frozen=True, slots=True)
class Call:
    """A function call ``target.name(args)``; ``target`` is ``None`` for the current focus."""

    target: Node | None
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Index:
    """``target[index]``."""

    target: Node
    index: Node


@dataclass(frozen=True, slots=True)
class TypeOp:
    """``operand is Type`` or ``operand as Type``."""

    op: str
    operand: Node
    type_name: str


@dataclass(frozen=True, slots=True)
class Binary:
    """Any other binary operator: ``|``, ``=``, ``!=``, ``and``..."""

    op: str
    left: Node
    right: Node


Node = Literal | Variable | Member | Call | Index | TypeOp | Binary

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>\d+(?:\.\d+)?)|(?P<var>%[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|`(?P<quoted>[^`]*)`|(?P<op><=|>=|!=|!~|[-.()\[\],|=~<>+&*/]))"
)
# Binary operator levels, lowest precedence first; `is`/`as` sit between `|` and `+`.
_LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"implies"}),
    frozenset({"or", "xor"}),
    frozenset({"and"}),
    frozenset({"in", "contains"}),
    frozenset({"=", "~", "!=", "!~"}),
    frozenset({"<", ">", "<=", ">="}),
    frozenset({"|"}),
)
_TYPE_LEVEL = len(_LEVELS)
_ARITHMETIC: tuple[frozenset[str], ...] = (frozenset({"+", "-", "&"}), frozenset({"*", "/", "div", "mod"}))
_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda match: _ESCAPES.get(match.group(1), match.group(1)), body)


def _tokenize(expression: str) -> list[tuple[str, str]]:
    """Split an expression into ``(kind, text)`` tokens."""
    tokens: list[tuple[str, str]] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FhirPathSyntaxError(f"Unexpected character at {position} in FHIRPath `{expression}`.")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "quoted":
            kind = "ident"
        tokens.append((kind, value))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over the token list."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokenize(expression)
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, text: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (text is not None and token[1] != text):
            raise FhirPathSyntaxError(f"Expected `{text or 'more'}` in FHIRPath `{self.expression}`.")
        self.position += 1
        return token

    def binary(self, level: int) -> Node:
        if level == _TYPE_LEVEL:
            return self.type_expression()
        left = self.binary(level + 1)
        while (token := self.peek()) is not None and token[0] in ("op", "ident") and token[1] in _LEVELS[level]:
            self.position += 1
            left = Binary(token[1], left, self.binary(level + 1))
        return left

    def type_expression(self) -> Node:
        operand = self.arithmetic(0)
        while (token := self.peek()) is not None and token[0] == "ident" and token[1] in ("is", "as"):
            self.position += 1
            operand = TypeOp(token[1], operand, self.type_specifier())
        return operand

    def arithmetic(self, level: int) -> Node:
        if level == len(_ARITHMETIC):
            return self.invocation()
        left = self.arithmetic(level + 1)
        while (token := self.peek()) is not None and token[1] in _ARITHMETIC[level] and token[0] in ("op", "ident"):
            self.position += 1
            left = Binary(token[1], left, self.arithmetic(level + 1))
        return left

    def type_specifier(self) -> str:
        name = self.take()[1]
        while (token := self.peek()) is not None and token[1] == ".":  # FHIR.Quantity, System.String
            self.position += 1
            name = self.take()[1]
        return name

    def invocation(self) -> Node:
        node = self.term()
        while (token := self.peek()) is not None:
            if token[1] == ".":
                self.position += 1
                node = self.member_or_call(node)
            elif token[1] == "[":
                self.position += 1
                node = Index(node, self.binary(0))
                self.take("]")
            else:
                break
        return node

    def member_or_call(self, target: Node | None) -> Node:
        kind, name = self.take()
        if kind != "ident":
            raise FhirPathSyntaxError(f"Expected a name, got `{name}` in FHIRPath `{self.expression}`.")
        token = self.peek()
        if token is None or token[1] != "(":
            return Member(target, name)
        self.position += 1
        args: list[Node] = []
        if (token := self.peek()) is not None and token[1] == ")":
            self.position += 1
            return Call(target, name, ())
        if name in ("is", "as", "ofType"):
            # A type specifier argument is a name, not a path: keep it as a literal.
            args.append(Literal(self.type_specifier(), "type"))
        else:
            args.append(self.binary(0))
            while (token := self.peek()) is not None and token[1] == ",":
                self.position += 1
                args.append(self.binary(0))
        self.take(")")
        return Call(target, name, tuple(args))

    def term(self) -> Node:
        kind, text = self.take()
        if kind == "string":
            return Literal(_unescape(text[1:-1]), "string")
        if kind == "number":
            return Literal(Decimal(text), "decimal") if "." in text else Literal(int(text), "integer")
        if kind == "var":
            return Variable(text[1:])
        if kind == "ident" and text in ("true", "false"):
            return Literal(text == "true", "boolean")
        if kind == "ident":
            self.position -= 1
            return self.member_or_call(None)
        if text == "(":
            node = self.binary(0)
            self.take(")")
            return node
        raise FhirPathSyntaxError(f"Unexpected `{text}` in FHIRPath `{self.expression}`.")


def parse(expression: str) -> Node:
    """Parse one FHIRPath expression.

    :raises FhirPathSyntaxError: when the expression is outside the grammar this parser reads.
    """
    parser = _Parser(expression)
    node = parser.binary(0)
    if parser.peek() is not None:
        raise FhirPathSyntaxError(f"Unexpected `{parser.peek()[1]}` in FHIRPath `{expression}`.")  # type: ignore[index]
    return node
