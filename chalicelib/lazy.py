"""Modules loaded on first use, for a short cold start.

One Lambda function serves every route, but one request needs only its own
use case: a member's `GET /v1/me` has no use for the operator API's use cases
and request models. The route modules therefore name their use cases and
request models with `lazy_module`, and a module is executed the first time
one of its attributes is read (the standard library's `importlib.util.LazyLoader`,
which is thread-safe since Python 3.12). `import app` then costs only what
every request needs: Chalice, botocore and PynamoDB, pydantic, the logger.

For the type checker the same names are plain imports under `TYPE_CHECKING`.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """The module `name` (absolute), executed when one of its attributes is first read.

    An already imported module is returned as it is. A name that does not
    exist fails here, at import time, not at the first request.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module
