"""chalicelib/lazy.py: route modules name their use cases without importing them."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from chalicelib.lazy import lazy_module


def test_given_a_lazy_module_then_it_is_imported_only_when_an_attribute_is_read(tmp_path, monkeypatch):
    (tmp_path / "lazy_probe.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    module = lazy_module("lazy_probe")
    assert "lazy_probe" not in sys.modules

    assert module.LOADED is True
    assert "lazy_probe" in sys.modules
    sys.modules.pop("lazy_probe")


def test_given_a_module_whose_code_fails_then_every_use_says_so_and_a_fixed_module_loads(tmp_path, monkeypatch):
    source = tmp_path / "lazy_broken.py"
    source.write_text(
        textwrap.dedent("""
        raise RuntimeError("the module's own error")
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = lazy_module("lazy_broken")

    for _ in range(2):  # not left half-built: the second use fails the same way, not with AttributeError
        with pytest.raises(RuntimeError, match="the module's own error"):
            getattr(module, "anything")  # noqa: B009
    assert "lazy_broken" not in sys.modules

    source.write_text("VALUE = 1\n")
    importlib.invalidate_caches()
    assert module.VALUE == 1
    sys.modules.pop("lazy_broken")


def test_given_a_name_that_is_no_module_then_it_fails_when_the_app_is_imported():
    with pytest.raises(ModuleNotFoundError):
        lazy_module("chalicelib.usecases.no_such_module")


def test_every_lazy_name_of_the_route_modules_resolves():
    import app  # noqa: F401  (registers every route module)
    from chalicelib.lazy import _DeferredModule

    deferred = [
        (f"{module_name}.{name}", value)
        for module_name, module in list(sys.modules.items())
        if module_name.startswith("chalicelib.")
        for name, value in vars(module).items()
        if isinstance(value, _DeferredModule)
    ]
    assert len(deferred) >= 20
    for where, value in deferred:
        assert value.__file__.endswith(".py"), where  # reading an attribute imports it
