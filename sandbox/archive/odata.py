"""OData `$filter` (the query language the Noark 5 tjenestegrensesnitt prescribes) to a
parameterised SQLite WHERE clause, over a whitelist of the entity's fields.

The expression is parsed by odata-query (a maintained OData v4 parser); only the translation to
this store's columns is written here. Supported: eq ne gt ge lt le, and/or/not, startswith,
endswith, contains, year(); field paths such as `klasse/klasseID`. Anything else is refused
with a message (the API answers 400, as the standard's result codes say).
"""

from __future__ import annotations

from typing import Any

from odata_query import ast
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser

_COMPARE = {ast.Eq: "=", ast.NotEq: "<>", ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<="}
_TEXT = {
    "startswith": "substr({0}, 1, length(?)) = ?",
    "endswith": "(length({0}) >= length(?) AND substr({0}, length({0}) - length(?) + 1) = ?)",
    "contains": "instr({0}, ?) > 0",
}


class ODataError(ValueError):
    """A filter this archive cannot evaluate; the message is shown to the client."""


def where(text: str, fields: dict[str, str]) -> tuple[str, list[Any]]:
    """(SQL condition, parameters) for an OData filter; `fields` maps field paths to columns."""
    try:
        tree = ODataParser().parse(ODataLexer().tokenize(text))
    except ODataException as exc:
        raise ODataError(f"Ugyldig $filter: {exc}") from exc
    params: list[Any] = []
    return _sql(tree, fields, params), params


def _path(node: Any) -> str:
    if isinstance(node, ast.Identifier):
        return node.name
    if isinstance(node, ast.Attribute):
        return f"{_path(node.owner)}/{node.attr}"
    raise ODataError("Ugyldig $filter: venstre side må være et felt")


def _column(node: Any, fields: dict[str, str]) -> str:
    path = _path(node)
    if path not in fields:
        known = ", ".join(sorted(fields))
        raise ODataError(f"Kan ikke filtrere på {path}; felter som støttes: {known}")
    return fields[path]


def _value(node: Any, params: list[Any]) -> str:
    if isinstance(node, ast.Null):
        return "NULL"
    if isinstance(node, ast.Boolean):
        params.append(1 if node.val == "true" else 0)
    elif isinstance(node, (ast.String, ast.Date, ast.DateTime)):
        params.append(str(node.val))
    elif isinstance(node, (ast.Integer, ast.Float)):
        params.append(node.py_val)
    else:
        raise ODataError("Ugyldig $filter: høyre side må være en verdi")
    return "?"


def _sql(node: Any, fields: dict[str, str], params: list[Any]) -> str:
    if isinstance(node, ast.BoolOp):
        op = "AND" if isinstance(node.op, ast.And) else "OR"
        left = _sql(node.left, fields, params)
        return f"({left} {op} {_sql(node.right, fields, params)})"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return f"(NOT {_sql(node.operand, fields, params)})"
    if isinstance(node, ast.Compare) and type(node.comparator) in _COMPARE:
        if isinstance(node.left, ast.Call) and node.left.func.name == "year":
            column = f"CAST(substr({_column(node.left.args[0], fields)}, 1, 4) AS INTEGER)"
        else:
            column = _column(node.left, fields)
        value = _value(node.right, params)
        if value == "NULL":
            return f"({column} IS {'NOT ' if isinstance(node.comparator, ast.NotEq) else ''}NULL)"
        return f"({column} {_COMPARE[type(node.comparator)]} {value})"
    if isinstance(node, ast.Call) and node.func.name in _TEXT and len(node.args) == 2:
        column = _column(node.args[0], fields)
        if not isinstance(node.args[1], ast.String):
            raise ODataError(f"Ugyldig $filter: {node.func.name} tar en tekst")
        # Case-sensitive, as OData says (SQLite's LIKE is not), and no wildcard characters.
        params.extend([node.args[1].val] * _TEXT[node.func.name].count("?"))
        return "(" + _TEXT[node.func.name].format(column) + ")"
    raise ODataError("Ugyldig $filter: uttrykket støttes ikke av dette arkivet")
