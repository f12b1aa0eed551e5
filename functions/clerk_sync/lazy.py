"""Lazy package exports (PEP 562): a name's module is imported when the name is first used, not with the package."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, namespace: dict[str, Any], exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that loads each of `exports` (name -> module) on first access, then caches it."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's required name
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later lookups skip this function
        return value

    return __getattr__
