"""Modules loaded on first use, for a short cold start.

One Lambda function serves every route, but one request needs only its own
use case: a member's `GET /v1/me` has no use for the operator API's use cases
and request models. The route modules therefore name their use cases and
request models with `lazy_module`; the module is imported the first time one
of its attributes is read. `import app` then costs only what every request
needs: Chalice, botocore and PynamoDB, the logger.

The import itself is Python's own (`importlib.import_module`, under the import
lock): a module whose code fails is not left half-built in `sys.modules`, so
the next request tries again and the error says what failed.

For the type checker the same names are plain imports under `TYPE_CHECKING`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any


class _DeferredModule(ModuleType):
    """Stands for a module until an attribute is read, then forwards to it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_loaded"] = None

    def __getattr__(self, attribute: str) -> Any:
        loaded = self.__dict__["_loaded"]
        if loaded is None:
            loaded = importlib.import_module(self.__name__)
            self.__dict__["_loaded"] = loaded
        return getattr(loaded, attribute)


@functools.cache
def _entries(folder: str) -> frozenset[str]:
    try:
        return frozenset(os.listdir(folder))
    except OSError:
        return frozenset()


def _source_exists(name: str) -> bool:
    """`name`'s source is in its (imported) top-level package's folders: one directory listing
    per folder, kept, where `importlib.util.find_spec` walks the import machinery with several
    stat calls per name (dozens of names at every cold start)."""
    top, _, rest = name.partition(".")
    folders = getattr(sys.modules.get(top), "__path__", None)
    if not rest or not folders:
        return False
    *parents, leaf = rest.split(".")
    folder = os.path.join(next(iter(folders)), *parents)
    entries = _entries(folder)
    return f"{leaf}.py" in entries or (leaf in entries and "__init__.py" in _entries(os.path.join(folder, leaf)))


def lazy_module(name: str) -> ModuleType:
    """The module `name` (absolute), imported when one of its attributes is first read.

    A name that does not exist fails here, when the app is imported, not at
    the first request.
    """
    if not _source_exists(name) and importlib.util.find_spec(name) is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    return _DeferredModule(name)
