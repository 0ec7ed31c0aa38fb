"""Conditions as JSON Logic (jsonlogic.com), checked when a form is saved and
evaluated on the server with the ``panzi-json-logic`` library, which follows the
reference JavaScript implementation (json-logic-js) that a browser preview uses.

A condition may read only answers given earlier in the form (``{"var": "id"}``,
``{"var": "id.field"}`` for a compound answer), and only the operators in
:data:`OPERATORS` (no ``log``; nothing that reaches outside the data). Its size is
bounded (:data:`MAX_NODES`, :data:`MAX_DEPTH`), so a shared form cannot make the
server work without limit (issue 14, point 7).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from json_logic import jsonLogic
from json_logic.builtins import BUILTINS

log = logging.getLogger(__name__)

#: The JSON Logic operators a condition may use.
OPERATORS = frozenset({
    "==", "!=", "===", "!==", "<", ">", "<=", ">=", "!", "!!", "and", "or", "if", "?:",
    "in", "var", "missing", "missing_some", "+", "-", "*", "/", "%", "min", "max", "cat", "substr",
    "merge",
})  # not map/filter/reduce/all/some/none: their "var" reads an array item, which check() could not vouch for
_OPERATIONS = {op: fn for op, fn in BUILTINS.items() if op in OPERATORS}
#: At most this many nodes in one condition, nested at most this deep.
MAX_NODES = 200
MAX_DEPTH = 12


class LogicError(ValueError):
    """A condition that cannot be used: unknown operator, too large, or reading an
    answer it may not see. ``message`` is Japanese first, then English."""


def check(rule: Any, known: frozenset[str]) -> None:
    """Raise :class:`LogicError` unless ``rule`` is a JSON Logic rule of allowed
    operators, within the size bounds, whose ``var`` names start with an id in
    ``known`` (the answers given before it)."""
    nodes = 0
    for node, depth in _walk(rule, 1):
        nodes += 1
        if nodes > MAX_NODES or depth > MAX_DEPTH:
            raise LogicError(f"条件が大きすぎます（{MAX_NODES}要素・{MAX_DEPTH}階層まで）。 "
                             f"The condition is too large (at most {MAX_NODES} nodes, {MAX_DEPTH} levels).")
        if isinstance(node, dict):
            if len(node) != 1:
                raise LogicError("条件の各要素は演算子を一つだけ持ちます。 "
                                 "Each condition node has exactly one operator.")
            op, args = next(iter(node.items()))
            if op not in OPERATORS:
                raise LogicError(f"条件に使えない演算子です: {op} The operator {op!r} cannot be used in a condition.")
            names: list[Any] = []
            if op == "var":
                names = [args[0] if isinstance(args, list) and args else args]
            elif op == "missing":
                names = args if isinstance(args, list) else [args]
            elif op == "missing_some":
                names = args[1] if isinstance(args, list) and len(args) > 1 and isinstance(args[1], list) else [None]
            for name in names:
                if not isinstance(name, str) or name.split(".", 1)[0] not in known:
                    raise LogicError(f"条件が、前にない質問を参照しています: {name} "
                                     f"The condition reads {name!r}, which is not an earlier question.")


def variables(rule: Any) -> set[str]:
    """The answer ids a rule reads (the part of each ``var`` name before a dot)."""
    out: set[str] = set()
    for node, _ in _walk(rule, 1):
        if isinstance(node, dict) and "var" in node:
            args = node["var"]
            name = args[0] if isinstance(args, list) and args else args
            if isinstance(name, str) and name:
                out.add(name.split(".", 1)[0])
    return out


def holds(rule: Any, data: Mapping[str, Any]) -> bool:
    """Whether ``rule`` is true for ``data`` (JSON Logic truthiness). ``None``
    (no condition) holds. A rule that fails while evaluating (e.g. a division by
    zero) does not hold, and is logged."""
    if rule is None:
        return True
    try:
        return bool(_truthy(jsonLogic(rule, dict(data), _OPERATIONS)))
    except Exception as e:
        log.warning("condition %r failed to evaluate (%s); taken as false", rule, type(e).__name__)
        return False


def _truthy(value: Any) -> bool:
    # JSON Logic truthiness (as JavaScript): empty arrays are false, as are "", 0 and null.
    if isinstance(value, list):
        return len(value) > 0
    return bool(value)


def _walk(node: Any, depth: int) -> Iterator[tuple[Any, int]]:
    yield node, depth
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, depth + 1)
