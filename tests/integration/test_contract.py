"""openapi.yaml is the contract frontends build against: it must match the routes."""

from pathlib import Path

import yaml
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]


def _document():
    return yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))


def _routed() -> set[tuple[str, str]]:
    from app import app

    return {(path, method.lower()) for path, methods in app.routes.items() for method in methods}


def _documented() -> set[tuple[str, str]]:
    verbs = {"get", "post", "put", "patch", "delete"}
    return {(path, verb) for path, item in _document()["paths"].items() for verb in item if verb in verbs}


def test_the_document_is_valid_openapi_3_1():
    document = _document()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_is_documented():
    assert _routed() - _documented() == set()


def test_every_documented_operation_is_routed():
    assert _documented() - _routed() == set()


def test_every_error_code_the_service_can_answer_is_in_the_document():
    from chalicelib.domain import errors

    codes = {
        cls.code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.HuiyuanError) and cls is not errors.HuiyuanError
    }
    text = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    assert {c for c in codes if c not in text} == set()
