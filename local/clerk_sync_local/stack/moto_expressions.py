"""Update expressions for moto's DynamoDB without the work moto repeated: a user profile's UpdateItem 36 → 22 ms.

A user's profile is written by one UpdateItem of about 30 SET clauses (docs/decisions/0026). moto took 25 to 36 ms for
each, against 5 to 7 ms for an organization's PutItem, and requests are serialised, so it capped a webhook burst and
a backfill's users. Measured with cProfile: every clause node of moto's update AST is an `UpdateExpression`, and two
of its validators (`ActionCountValidator`, `OverlappingPathsValidator`) search the whole subtree below each one
(`find_clauses`), which is quadratic in the clauses; the expression was parsed twice per request, and every
traversal rebuilt its processing map at each node. DynamoDB does none of that (docs/decisions/0031).

`install()` changes what moto recomputes, never what it answers:

- a parsed update expression is kept (by its text) and handed out again: moto's callers only read it, and the
  validator works on a deep copy of it;
- during those two validators' traversals `find_clauses` remembers its answer per node: neither validator changes
  the tree it walks, so each node's answer is the one a fresh search would give, and the same level raises first;
- a traverser builds its processing map once instead of at every node (it maps node types to bound methods), and
  keeps which node classes it processes, where moto asked its ABCs again at every node.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
from collections.abc import Callable
from typing import Any, Final

_PARSED_EXPRESSIONS: Final = 512
_installed = False
# (node id, clause types) → the clauses found, while a validator that leaves the tree alone walks it.
_found: contextvars.ContextVar[dict[tuple[int, tuple[type, ...]], list[Any]] | None] = contextvars.ContextVar(
    "clerk_sync_found_clauses", default=None
)


def _remembering_find(original: Callable[[Any, Any], list[Any]]) -> Callable[[Any, Any], list[Any]]:
    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        memo = _found.get()
        if memo is None:
            return original(self, clause_types)
        key = (id(self), tuple(clause_types))
        found = memo.get(key)
        if found is None:
            found = memo[key] = original(self, clause_types)  # its children's searches come through here too
        return list(found)

    return find_clauses


def _remembering_traverse(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def traverse(self: Any, node: Any) -> Any:
        token = _found.set({})
        try:
            return original(self, node)
        finally:
            _found.reset(token)

    return traverse


def _processing_map_once(self: Any) -> dict[type, Callable[[Any], Any]]:
    mapping: dict[type, Callable[[Any], Any]] | None = self.__dict__.get("_clerk_sync_processing_map")
    if mapping is None:
        mapping = self.__dict__["_clerk_sync_processing_map"] = self._processing_map()
    return mapping


def _nodes_to_be_processed(self: Any) -> tuple[type, ...]:
    types: tuple[type, ...] | None = self.__dict__.get("_clerk_sync_node_types")
    if types is None:
        types = self.__dict__["_clerk_sync_node_types"] = tuple(_processing_map_once(self))
    return types


def _kinds_processed(self: Any) -> dict[type, bool]:
    kinds: dict[type, bool] | None = self.__dict__.get("_clerk_sync_kinds")
    if kinds is None:
        kinds = self.__dict__["_clerk_sync_kinds"] = {}
    return kinds


def _walking(node_class: type) -> Callable[..., Any]:
    """moto's `traverse_node_recursively`, step for step, with each class's isinstance answers kept: moto's nodes
    are ABCs, whose isinstance checks were a quarter of an update's time, and no class is registered with them."""
    is_node: dict[type, bool] = {}

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        kind = type(node)
        known = is_node.get(kind)
        if known is None:
            known = is_node[kind] = issubclass(kind, node_class)
        if not known:
            return node
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                self.traverse_node_recursively(child_node, i)
        kinds = _kinds_processed(self)
        processed = kinds.get(kind)
        if processed is None:
            processed = kinds[kind] = issubclass(kind, self.nodes_to_be_processed())
        if processed:
            node = self.process(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        return node

    return traverse_node_recursively


def _process(self: Any, node: Any) -> Any:
    for class_key, processor in _processing_map_once(self).items():
        if isinstance(node, class_key):
            return processor(node)
    return None


def _parsed_once(parser: Any) -> Any:
    original = parser.make.__func__
    parse = functools.lru_cache(maxsize=_PARSED_EXPRESSIONS)(lambda expression: original(parser, expression))

    def make(cls: Any, expression: str) -> Any:
        return parse(expression) if cls is parser else original(cls, expression)

    return classmethod(make)


def install() -> None:
    """Patches moto's update-expression machinery in this process; idempotent. Only the moto server's process."""
    global _installed  # noqa: PLW0603 - once per process
    if _installed:
        return
    # moto's parsing modules carry no types (`# type: ignore` files): imported as Any.
    ast_nodes: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
    validators: Any = importlib.import_module("moto.dynamodb.parsing.validators")
    expressions: Any = importlib.import_module("moto.dynamodb.parsing.expressions")

    ast_nodes.Node.find_clauses = _remembering_find(ast_nodes.Node.find_clauses)
    for validator in (validators.ActionCountValidator, validators.OverlappingPathsValidator):
        validator.traverse = _remembering_traverse(validator.traverse)
    traverser = ast_nodes.DepthFirstTraverser
    traverser.nodes_to_be_processed = _nodes_to_be_processed
    traverser.process = _process
    traverser.traverse_node_recursively = _walking(ast_nodes.Node)
    expressions.UpdateExpressionParser.make = _parsed_once(expressions.UpdateExpressionParser)
    _installed = True
