"""Control rules: arithmetic over ROI values, parsed without ``eval``.

A rule combines ROI dF/F values into the control signal, e.g. ``'BC_L-BC_R'``,
``'M1_L-BC_L'``, ``'(M1_L+M1_R)/2'`` or just ``'M1_L'`` (1-ROI). Grammar:

    expr   := term (('+' | '-') term)*
    term   := unary (('*' | '/') unary)*
    unary  := ('+' | '-') unary | atom
    atom   := NUMBER | NAME | '(' expr ')'

Everything else (``%``, ``**``, calls, attributes, indexing, strings,
comparisons) is rejected with a ``ConfigError``. The original used ``eval``
and had ``%`` but no ``*``; here ``*`` is supported and ``%`` is not.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Union

from .errors import ConfigError

_ALLOWED = ('allowed: ROI names, numbers, + - * / and parentheses')
_MAX_LENGTH = 1000
_MAX_DEPTH = 100

# One token per match; order matters (number before name so '1e3' is a number).
_TOKEN_RE = re.compile(r'''
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<power>\*\*)
  | (?P<op>[-+*/()])
''', re.VERBOSE)


@dataclass(frozen=True)
class _Token:
    kind: str      # 'number' | 'name' | 'op' | 'end'
    text: str
    pos: int       # 0-based character offset in the expression


@dataclass(frozen=True)
class _Num:
    value: float


@dataclass(frozen=True)
class _Var:
    name: str


@dataclass(frozen=True)
class _Neg:
    operand: '_Node'


@dataclass(frozen=True)
class _Bin:
    op: str
    left: '_Node'
    right: '_Node'


_Node = Union[_Num, _Var, _Neg, _Bin]


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(expression):
        match = _TOKEN_RE.match(expression, pos)
        if match is None:
            char = expression[pos]
            what = {'%': "'%' (modulo)", '.': "'.' (attribute access)",
                    '[': "'[' (indexing)", '=': "'=' (assignment/comparison)",
                    '<': "'<' (comparison)", '>': "'>' (comparison)",
                    '"': 'string literals', "'": 'string literals',
                    ',': "',' (argument lists)"}.get(char, repr(char))
            raise ConfigError(
                f'rule {expression!r}: found {what} at column {pos + 1}, '
                f'which is not allowed; {_ALLOWED}')
        kind = match.lastgroup
        if kind == 'power':
            raise ConfigError(
                f"rule {expression!r}: found '**' (power) at column "
                f'{pos + 1}, which is not allowed; {_ALLOWED}')
        if kind != 'space':
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token('end', '', len(expression)))
    return tokens


class _Parser:
    """Recursive-descent parser producing a small node tree."""

    def __init__(self, expression: str) -> None:
        self._expr = expression
        self._tokens = _tokenize(expression)
        self._i = 0
        self._depth = 0

    def _peek(self) -> _Token:
        return self._tokens[self._i]

    def _take(self) -> _Token:
        token = self._tokens[self._i]
        self._i += 1
        return token

    def _error(self, token: _Token, problem: str) -> ConfigError:
        return ConfigError(
            f'rule {self._expr!r}: {problem} at column {token.pos + 1}; '
            f'{_ALLOWED}')

    def parse(self) -> _Node:
        if self._peek().kind == 'end':
            raise ConfigError(f'rule {self._expr!r} is empty; {_ALLOWED}')
        node = self._expression()
        token = self._peek()
        if token.kind != 'end':
            raise self._error(token, f'unexpected {token.text!r}')
        return node

    def _expression(self) -> _Node:
        node = self._term()
        while self._peek().kind == 'op' and self._peek().text in '+-':
            op = self._take().text
            node = _Bin(op, node, self._term())
        return node

    def _term(self) -> _Node:
        node = self._unary()
        while self._peek().kind == 'op' and self._peek().text in '*/':
            op = self._take().text
            node = _Bin(op, node, self._unary())
        return node

    def _unary(self) -> _Node:
        token = self._peek()
        if token.kind == 'op' and token.text in '+-':
            self._take()
            operand = self._nested(self._unary)
            return _Neg(operand) if token.text == '-' else operand
        return self._atom()

    def _nested(self, parse):
        # Bounded recursion: a hostile '-----...' or '((((...' must give a
        # ConfigError, not a RecursionError.
        self._depth += 1
        if self._depth > _MAX_DEPTH:
            raise ConfigError(
                f'rule {self._expr[:40]!r}...: nesting deeper than '
                f'{_MAX_DEPTH} levels is not allowed')
        try:
            return parse()
        finally:
            self._depth -= 1

    def _atom(self) -> _Node:
        token = self._take()
        if token.kind == 'number':
            return _Num(float(token.text))
        if token.kind == 'name':
            following = self._peek()
            if following.kind == 'op' and following.text == '(':
                raise self._error(token, f'function call {token.text}(...) is '
                                         f'not allowed')
            return _Var(token.text)
        if token.kind == 'op' and token.text == '(':
            node = self._nested(self._expression)
            closing = self._take()
            if not (closing.kind == 'op' and closing.text == ')'):
                raise self._error(closing, "missing ')'")
            return node
        if token.kind == 'end':
            raise self._error(token, 'expression ends where a value is '
                                     'expected')
        raise self._error(token, f'unexpected {token.text!r} where a value is '
                                 f'expected')


def _names_in(node: _Node, out: list[str]) -> None:
    if isinstance(node, _Var):
        if node.name not in out:
            out.append(node.name)
    elif isinstance(node, _Neg):
        _names_in(node.operand, out)
    elif isinstance(node, _Bin):
        _names_in(node.left, out)
        _names_in(node.right, out)


def _evaluate(node: _Node, values: Mapping[str, float], zero_divisions: list | None = None) -> float:
    if isinstance(node, _Num):
        return node.value
    if isinstance(node, _Var):
        return float(values[node.name])
    if isinstance(node, _Neg):
        return -_evaluate(node.operand, values, zero_divisions)
    left = _evaluate(node.left, values, zero_divisions)
    right = _evaluate(node.right, values, zero_divisions)
    if node.op == '+':
        return left + right
    if node.op == '-':
        return left - right
    if node.op == '*':
        return left * right
    # Division: a zero denominator has no meaningful control value.
    if right == 0.0:
        if zero_divisions is not None:
            zero_divisions.append(node)
        return math.nan
    return left / right


class Rule:
    """A parsed, validated control rule.

    Args:
        expression: e.g. ``'BC_L-BC_R'``; see the module docstring for the
            grammar.
        allowed_names: names the rule may use (the configured ROI names).

    Raises:
        ConfigError: syntax outside the grammar, or a name not in
            ``allowed_names``.
    """

    def __init__(self, expression: str, allowed_names: Iterable[str]) -> None:
        if not isinstance(expression, str):
            raise ConfigError(
                f'rule must be a string such as "BC_L-BC_R", got '
                f'{expression!r}')
        if len(expression) > _MAX_LENGTH:
            raise ConfigError(
                f'rule is {len(expression)} characters long; at most '
                f'{_MAX_LENGTH} are allowed')
        allowed = list(dict.fromkeys(allowed_names))
        self._expression = expression.strip()
        self._tree = _Parser(self._expression).parse()
        names: list[str] = []
        _names_in(self._tree, names)
        for name in names:
            if name not in allowed:
                raise ConfigError(
                    f'rule {self._expression!r} uses unknown name {name!r}; '
                    f'allowed names: {allowed}')
        if not names:
            raise ConfigError(
                f'rule {self._expression!r} uses no ROI name; a rule must use '
                f'at least one of {allowed}')
        self._names = tuple(names)

    @property
    def expression(self) -> str:
        """The rule text (stripped)."""
        return self._expression

    @property
    def names(self) -> tuple[str, ...]:
        """Names the rule uses, in order of first appearance."""
        return self._names

    def evaluate(self, values: Mapping[str, float]) -> float:
        """Value of the rule for one frame.

        Args:
            values: name -> value (e.g. ROI dF/F); must contain every name in
                ``names``; extra entries are ignored.

        Returns:
            The result as a float; NaN when a division by zero occurs or an
            input is NaN.

        Raises:
            KeyError: a used name is missing from ``values``.
        """
        self._check_names(values)
        return _evaluate(self._tree, values)

    def evaluate_checked(self, values: Mapping[str, float]) -> tuple[float, str]:
        """``evaluate``, and why the value is NaN when a division by zero made it so:
        ``'rule: division by zero (BC_L=0.01, BC_R=0)'`` (the ROI values of the frame),
        else ''."""
        self._check_names(values)
        zero_divisions: list = []
        value = _evaluate(self._tree, values, zero_divisions)
        if not zero_divisions:
            return value, ''
        shown = ', '.join(f'{name}={float(values[name]):.6g}' for name in dict.fromkeys(self._names))
        return value, f'rule: division by zero ({shown})'

    def _check_names(self, values: Mapping[str, float]) -> None:
        missing = [n for n in self._names if n not in values]
        if missing:
            raise KeyError(
                f'rule {self._expression!r} needs values for {missing}; got '
                f'{sorted(values)}')

    def __repr__(self) -> str:
        return f'Rule({self._expression!r}, names={list(self._names)})'
