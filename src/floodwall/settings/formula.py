"""fail2ban's `bantime.formula`, evaluated safely: arithmetic over a few documented names.

Names: `ban.Time` (the jail's bantime, seconds), `ban.Count` (previous bans of the address),
`banFactor` (bantime.factor), the functions `math.exp`, `math.log`, `math.sqrt`, `float`,
`int`, `min`, `max`, `abs`, numbers, `+ - * / // % **`, `<< >>`, comparisons and
`a if cond else b`. Anything else (attributes, other names, strings, lambdas, calls of any
other function) is refused when the configuration is read; no `eval` ever runs.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
}
_COMPARE: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "math.exp": math.exp, "math.log": math.log, "math.sqrt": math.sqrt, "float": float,
    "int": int, "min": min, "max": max, "abs": abs,
}
_NAMES = ("ban.Time", "ban.Count", "banFactor")
_MAX_EXPONENT = 64
"""Largest exponent or shift allowed, so a formula cannot make a number of a billion digits."""


class FormulaError(ValueError):
    """The formula uses something that is not plain arithmetic over the documented names."""


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


@dataclass(frozen=True, slots=True)
class BanFormula:
    """A checked formula; call it with the ban's base time, previous ban count and factor."""

    text: str
    _tree: ast.expr

    def __call__(self, time: float, count: int, factor: float) -> float:
        """The formula's value for these inputs."""
        names = {"ban.Time": time, "ban.Count": count, "banFactor": factor}
        try:
            return float(_evaluate(self._tree, names))
        except (ArithmeticError, ValueError, TypeError) as problem:
            raise FormulaError(f"bantime formula {self.text!r} failed for Time={time}, "
                               f"Count={count}: {problem}") from None


def compile_formula(text: str) -> BanFormula:
    """Parse and check a formula; FormulaError names what is not allowed."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as problem:
        raise FormulaError(f"not an arithmetic expression: {problem.msg}") from None
    _check(tree)
    return BanFormula(text, tree)


# Over the complexity limit on purpose: one branch per kind of syntax node the formula
# allows; a table would hide it.
def _check(node: ast.expr) -> None:  # noqa: C901
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise FormulaError(f"only numbers are allowed, not {node.value!r}")
    elif isinstance(node, ast.Name | ast.Attribute):
        if _dotted(node) not in _NAMES:
            raise FormulaError(f"unknown name {ast.unparse(node)!r}; use {', '.join(_NAMES)}")
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise FormulaError(f"operator {type(node.op).__name__} is not allowed")
        _check(node.left)
        _check(node.right)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise FormulaError(f"operator {type(node.op).__name__} is not allowed")
        _check(node.operand)
    elif isinstance(node, ast.Compare):
        if not all(type(op) in _COMPARE for op in node.ops):
            raise FormulaError("only <, <=, >, >=, ==, != comparisons are allowed")
        for part in (node.left, *node.comparators):
            _check(part)
    elif isinstance(node, ast.IfExp):
        for part in (node.test, node.body, node.orelse):
            _check(part)
    elif isinstance(node, ast.Call):
        name = _dotted(node.func)
        if name not in _FUNCTIONS or node.keywords:
            raise FormulaError(f"function {ast.unparse(node.func)!r} is not allowed; use "
                               f"{', '.join(_FUNCTIONS)}")
        for argument in node.args:
            _check(argument)
    else:
        raise FormulaError(f"{type(node).__name__} is not allowed in a bantime formula")


def _evaluate(node: ast.expr, names: dict[str, float]) -> float:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)  # _check let only numbers through
        return float(node.value)
    if isinstance(node, ast.Name | ast.Attribute):
        return names[_dotted(node) or ""]
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, names), _evaluate(node.right, names)
        if isinstance(node.op, ast.Pow | ast.LShift | ast.RShift) and abs(right) > _MAX_EXPONENT:
            raise ValueError(f"exponent or shift {right} is above {_MAX_EXPONENT}")
        if isinstance(node.op, ast.LShift | ast.RShift):
            left, right = int(left), int(right)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, names)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, names)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, names)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        chosen = node.body if _evaluate(node.test, names) else node.orelse
        return _evaluate(chosen, names)
    assert isinstance(node, ast.Call)
    return _FUNCTIONS[_dotted(node.func) or ""](*(_evaluate(a, names) for a in node.args))
