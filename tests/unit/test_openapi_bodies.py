"""openapi.yaml says exactly what the request models accept: every request body schema of the
document is compared with the pydantic model of the same name (fields, which are required,
types, null, bounds, lengths, patterns, choices). Drift fails here, before a fuzzer finds it."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
MODEL_MODULES = [
    f"chalicelib.api.schemas.{name}"
    for name in (
        "members",
        "merchants",
        "profile",
        "operators",
        "wallet",
        "engagement",
        "actions",
        "product_codes",
        "plans",
        "surveys",
        "campaigns",
        "segments",
        "wechat_pay",
        "transfers",
        "webhooks",
        "wechat",
        "imports",
        "bulk",
        "sms_receipts",
    )
]
COMPARED = ("minLength", "maxLength", "minimum", "maximum", "pattern")
# Fields whose model type allows null but whose validator refuses it (the document says what the
# validator does): a PATCH may not null the name or a consent flag, nor a reward update its
# name, cost or active flag (schemas_profile._not_null, RewardUpdateRequest._something_to_change).
NOT_NULL_BY_VALIDATOR = {
    "ProfilePatch.name",
    "ProfilePatch.consents",
    "ProfilePatch.consents.sms_marketing",
    "ProfilePatch.consents.email_marketing",
    "ProfilePatch.consents.push",
    "RewardUpdateRequest.name",
    "RewardUpdateRequest.points_cost",
    "RewardUpdateRequest.active",
}


def _request_body_schemas() -> list[str]:
    names = set()
    for path in DOCUMENT["paths"].values():
        for operation in path.values():
            content = (operation.get("requestBody") or {}).get("content", {})
            for media in content.values():
                ref = media["schema"].get("$ref", "")
                names.add(ref.rsplit("/", 1)[-1])
    return sorted(names)


def _model(name: str) -> Any:
    for module in MODEL_MODULES:
        model = getattr(importlib.import_module(module), name, None)
        if model is not None:
            return model
    raise AssertionError(f"openapi.yaml names {name}, which no request model is")


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        *_, section, name = schema["$ref"].split("/")
        schema = (root["$defs"] if section == "$defs" else root["components"]["schemas"])[name] | {k: v for k, v in schema.items() if k != "$ref"}
    return schema


def _normal(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """One shape for both sides: the set of types (null included), and the constraints."""
    schema = _resolve(schema, root)
    types: set[str] = set()
    merged: dict[str, Any] = {}
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches and "properties" not in schema:
        for branch in branches:
            part = _normal(branch, root)
            types |= part["types"]
            merged |= {k: v for k, v in part.items() if k != "types"}
    declared = schema.get("type")
    if declared:
        types |= set(declared) if isinstance(declared, list) else {declared}
    if "const" in schema:
        merged["enum"] = {schema["const"]}
    if "enum" in schema:
        types |= {"null"} if None in schema["enum"] else set()
        merged["enum"] = {v for v in schema["enum"] if v is not None}
    merged |= {k: schema[k] for k in COMPARED if k in schema}
    if "properties" in schema:
        merged["properties"] = {k: _normal(v, root) for k, v in schema["properties"].items()}
        merged["required"] = set(schema.get("required", []))
    if "items" in schema:
        merged["items"] = _normal(schema["items"], root)
    if types == {"integer", "number"}:
        types = {"integer"}
    return {"types": types, **merged}


def _differences(documented: dict[str, Any], enforced: dict[str, Any], where: str) -> list[str]:
    found = []
    enforced_types = enforced["types"] - {"null"} if where in NOT_NULL_BY_VALIDATOR else enforced["types"]
    if documented["types"] != enforced_types:
        found.append(f"{where}: documented types {sorted(documented['types'])}, enforced {sorted(enforced_types)}")
    for key in ("minLength", "maxLength", "minimum", "maximum", "enum"):
        if documented.get(key) != enforced.get(key):
            found.append(f"{where}: documented {key} {documented.get(key)!r}, enforced {enforced.get(key)!r}")
    if "pattern" in enforced and documented.get("pattern") != enforced["pattern"]:
        found.append(f"{where}: documented pattern {documented.get('pattern')!r}, enforced {enforced['pattern']!r}")
    if "properties" in enforced or "properties" in documented:
        names_doc, names_enf = set(documented.get("properties", {})), set(enforced.get("properties", {}))
        if names_doc != names_enf:
            found.append(f"{where}: documented fields {sorted(names_doc)}, enforced {sorted(names_enf)}")
        if documented.get("required") != enforced.get("required"):
            found.append(f"{where}: documented required {sorted(documented.get('required', []))}, enforced {sorted(enforced.get('required', []))}")
        for name in names_doc & names_enf:
            found += _differences(documented["properties"][name], enforced["properties"][name], f"{where}.{name}")
    if "items" in enforced:
        found += _differences(documented.get("items", {"types": set()}), enforced["items"], f"{where}[]")
    return found


@pytest.mark.parametrize("name", _request_body_schemas())
def test_the_documented_request_body_is_the_model_that_validates_it(name):
    model = _model(name)
    enforced_root = model.model_json_schema(mode="validation")
    documented = _normal(DOCUMENT["components"]["schemas"][name], DOCUMENT)
    enforced = _normal(enforced_root, enforced_root)
    assert _differences(documented, enforced, name) == []


def _error_codes(kind: type) -> set[str]:
    codes = set()
    for sub in kind.__subclasses__():
        codes |= {sub.code} | _error_codes(sub)
    return codes


def test_every_problem_code_the_service_answers_is_documented_and_no_other():
    import localstage.server  # the local server's own refusals (411, 414, 421, 431, 408)
    from chalicelib.domain.errors import HuiyuanError

    documented = set(DOCUMENT["components"]["schemas"]["Problem"]["properties"]["code"]["enum"])
    assert localstage.server.LengthRequired.code in documented
    assert documented == _error_codes(HuiyuanError)
