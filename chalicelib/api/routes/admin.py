"""The operator API under /v1/admin: IAM-authorised when deployed (open in the local stage only).

Deployed, every route uses API Gateway's IAM authorisation (SigV4): only
principals whose IAM policy allows `execute-api:Invoke` on these routes get
through, and the audit trail names the caller by its ARN
(`requestContext.identity.userArn`).

In the local stage Chalice's gateway cannot check SigV4 (it warns and admits
every request), so the routes are registered without an authorizer on
purpose, every response says so with `X-Huiyuan-Admin: local-open`, and the
actor is `local-operator` (or `local-operator:<X-Operator header>`). The
local stack serves on loopback only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from chalice.app import IAMAuthorizer, Request, Response

from ...domain.errors import Forbidden, ValidationFailed
from ...lazy import lazy_module
from ...settings import Settings, get_settings
from ..http import ApiBlueprint, answer_response, client_address, json_response, parse_body, path_id, query_cursor, query_limit

if TYPE_CHECKING:
    from ...usecases import analytics, audit
    from ...usecases.operations import (
        earn_preview,
        member_lookup,
        member_status_and_tier,
        member_tags,
        merchant_keys,
        phone_moves,
        points_adjustments,
        program_rules,
        reward_catalogue,
    )
    from ..schemas import operators as schemas_admin
else:
    schemas_admin = lazy_module("chalicelib.api.schemas.operators")
    analytics = lazy_module("chalicelib.usecases.analytics")
    audit = lazy_module("chalicelib.usecases.audit")
    earn_preview = lazy_module("chalicelib.usecases.operations.earn_preview")
    member_status_and_tier = lazy_module("chalicelib.usecases.operations.member_status_and_tier")
    member_lookup = lazy_module("chalicelib.usecases.operations.member_lookup")
    member_tags = lazy_module("chalicelib.usecases.operations.member_tags")
    merchant_keys = lazy_module("chalicelib.usecases.operations.merchant_keys")
    phone_moves = lazy_module("chalicelib.usecases.operations.phone_moves")
    points_adjustments = lazy_module("chalicelib.usecases.operations.points_adjustments")
    program_rules = lazy_module("chalicelib.usecases.operations.program_rules")
    reward_catalogue = lazy_module("chalicelib.usecases.operations.reward_catalogue")

bp = ApiBlueprint(__name__)

LOCAL_OPEN_HEADER = ("X-Huiyuan-Admin", "local-open")
LOCAL_ACTOR = "local-operator"
_OPERATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@:\-]{0,63}")


def route_authorizer(settings: Settings) -> IAMAuthorizer:
    """IAM (SigV4) on every admin route, whatever the stage: a deployment can never
    go out without it (say, with HUIYUAN_STAGE unset). Chalice's local gateway
    cannot check SigV4 and admits the calls, which is what the local stage's
    `X-Huiyuan-Admin: local-open` header announces."""
    return IAMAuthorizer()


# Decided once, when the app is loaded: the stage does not change in a running process.
LOCAL_OPEN = get_settings().is_local
_AUTHORIZER = route_authorizer(get_settings())


def operator_of(context: Mapping[str, Any], headers: Mapping[str, str], *, local_open: bool) -> str:
    """Who is acting, for the audit trail: the IAM principal when deployed.

    Locally there is no principal: `local-operator`, optionally naming the
    person with `X-Operator` (ignored when deployed, where it could be forged).
    """
    if local_open:
        name = headers.get("x-operator")
        if name is None:
            return LOCAL_ACTOR
        if not _OPERATOR_NAME.fullmatch(name.strip()):
            raise ValidationFailed.single("X-Operator", "1 to 64 letters, digits, spaces or . _ @ : -")
        return f"{LOCAL_ACTOR}:{name.strip()}"
    identity = context.get("identity") or {}
    principal = identity.get("userArn") or identity.get("caller")
    if not principal:
        # IAM authorisation always names the caller; without one, nothing is done unaudited.
        raise Forbidden("The caller's IAM identity is missing")
    return str(principal)


def actor_of(request: Request) -> str:
    """The operator a request of an operator route acts as (any blueprint's)."""
    return operator_of(request.context or {}, request.headers or {}, local_open=LOCAL_OPEN)


def _actor() -> str:
    return actor_of(bp.current_request)


View = Callable[..., Response]


def operator_route(blueprint: ApiBlueprint, path: str, method: str) -> Callable[[View], View]:
    """An operator route on `blueprint`: IAM-authorised when deployed; locally open, and every
    answer (errors included) says so."""
    options: dict[str, Any] = {"methods": [method], "authorizer": _AUTHORIZER}
    if LOCAL_OPEN:
        options["answer_headers"] = dict([LOCAL_OPEN_HEADER])

    def decorator(view: View) -> View:
        blueprint.route(path, **options)(view)
        return view

    return decorator


def admin_route(path: str, method: str) -> Callable[[View], View]:
    """An operator route of this blueprint (/v1/admin)."""
    return operator_route(bp, path, method)


def _identifier(value: str, field: str) -> str:
    return path_id(value, field)


def _query() -> dict[str, str]:
    return dict(bp.current_request.query_params or {})


def _exactly_one_of(query: dict[str, str], first: str, second: str) -> tuple[str | None, str | None]:
    """The query parameters `first` and `second`, of which a request gives exactly one (400 on `first` otherwise)."""
    one, other = query.get(first), query.get(second)
    if (one is None) == (other is None):
        raise ValidationFailed.single(first, f"give exactly one of the query parameters {first} or {second}")
    return one, other


def _page_args() -> tuple[int, str | None]:
    request = bp.current_request
    return query_limit(request), query_cursor(request)


# --- members ----------------------------------------------------------------------------------


@admin_route("/v1/admin/members", "GET")
def find_members() -> Response:
    phone, member_id = _exactly_one_of(_query(), "phone", "member_id")
    if member_id is not None:
        _identifier(member_id, "member_id")
    if phone is not None and not 3 <= len(phone) <= 32:
        raise ValidationFailed.single("phone", "not a valid phone number")
    return json_response(member_lookup.find_members(phone=phone, member_id=member_id))


@admin_route("/v1/admin/members/{member_id}", "GET")
def get_member(member_id: str) -> Response:
    return json_response(member_lookup.member_profile(_identifier(member_id, "member_id")))


@admin_route("/v1/admin/members/{member_id}/ledger", "GET")
def member_ledger(member_id: str) -> Response:
    return json_response(member_lookup.member_ledger(_identifier(member_id, "member_id"), *_page_args()))


@admin_route("/v1/admin/members/{member_id}/coupons", "GET")
def member_coupons(member_id: str) -> Response:
    return json_response(member_lookup.member_coupons(_identifier(member_id, "member_id"), *_page_args()))


def _state_change(change: str) -> Callable[[str], Response]:
    def view(member_id: str) -> Response:
        _identifier(member_id, "member_id")
        body = parse_body(bp.current_request, schemas_admin.ReasonRequest)
        return json_response(member_status_and_tier.change_member_state(member_id, change, _actor(), body.reason))

    view.__name__ = f"{change}_member"
    return view


# One route per state change: POST /v1/admin/members/{member_id}/<change>.
MEMBER_STATE_CHANGES = ("freeze", "unfreeze", "close", "restore")

for _change in MEMBER_STATE_CHANGES:
    admin_route(f"/v1/admin/members/{{member_id}}/{_change}", "POST")(_state_change(_change))


@admin_route("/v1/admin/members/{member_id}/adjustments", "POST")
def adjust_points(member_id: str) -> Response:
    _identifier(member_id, "member_id")
    body = parse_body(bp.current_request, schemas_admin.AdjustmentRequest)
    return answer_response(points_adjustments.adjust_points(member_id, body, _actor()))


@admin_route("/v1/admin/members/{member_id}/phone", "POST")
def move_member_phone(member_id: str) -> Response:
    """Operator-assisted recovery: a code to the new phone; the move completes when the member
    signs in with it (usecases/operations/phone_moves.py)."""
    _identifier(member_id, "member_id")
    request = bp.current_request
    body = parse_body(request, schemas_admin.PhoneMoveRequest)
    moved = phone_moves.request_phone_move(member_id, body.phone, _actor(), body.reason, client_address(request))
    return json_response(moved, status=202)


@admin_route("/v1/admin/members/{member_id}/tier-override", "PUT")
def set_tier_override(member_id: str) -> Response:
    _identifier(member_id, "member_id")
    body = parse_body(bp.current_request, schemas_admin.TierOverrideRequest)
    return json_response(member_status_and_tier.set_tier_override(member_id, body.tier, _actor(), body.reason))


@admin_route("/v1/admin/members/{member_id}/tier-override", "DELETE")
def clear_tier_override(member_id: str) -> Response:
    _identifier(member_id, "member_id")
    body = parse_body(bp.current_request, schemas_admin.ReasonRequest)
    return json_response(member_status_and_tier.clear_tier_override(member_id, _actor(), body.reason))


@admin_route("/v1/admin/members/{member_id}/tags", "POST")
def change_member_tags(member_id: str) -> Response:
    _identifier(member_id, "member_id")
    body = parse_body(bp.current_request, schemas_admin.TagsChangeRequest)
    return json_response(member_tags.change_tags(member_id, body.add, body.remove, _actor(), body.reason))


# --- rewards ----------------------------------------------------------------------------------


@admin_route("/v1/admin/rewards", "GET")
def list_rewards() -> Response:
    return json_response(reward_catalogue.list_rewards(*_page_args()))


@admin_route("/v1/admin/rewards", "POST")
def create_reward() -> Response:
    return answer_response(reward_catalogue.create_reward(parse_body(bp.current_request, schemas_admin.RewardCreateRequest), _actor()))


@admin_route("/v1/admin/rewards/{reward_id}", "PATCH")
def update_reward(reward_id: str) -> Response:
    _identifier(reward_id, "reward_id")
    return json_response(reward_catalogue.update_reward(reward_id, parse_body(bp.current_request, schemas_admin.RewardUpdateRequest), _actor()))


# --- merchant keys ----------------------------------------------------------------------------


@admin_route("/v1/admin/merchant-keys", "GET")
def list_merchant_keys() -> Response:
    return json_response(merchant_keys.list_merchant_keys(*_page_args()))


@admin_route("/v1/admin/merchant-keys", "POST")
def issue_merchant_key() -> Response:
    issued = merchant_keys.issue_merchant_key(parse_body(bp.current_request, schemas_admin.MerchantKeyRequest), _actor())
    return json_response(issued, status=201)


@admin_route("/v1/admin/merchant-keys/{key_id}", "DELETE")
def revoke_merchant_key(key_id: str) -> Response:
    _identifier(key_id, "key_id")
    request = bp.current_request
    reason = parse_body(request, schemas_admin.OptionalReasonRequest).reason if (request.raw_body or b"").strip() else None
    return json_response(merchant_keys.revoke_merchant_key(key_id, _actor(), reason))


# --- program rules ----------------------------------------------------------------------------


@admin_route("/v1/admin/rules", "GET")
def get_rules() -> Response:
    return json_response(program_rules.current_rules())


@admin_route("/v1/admin/rules", "PUT")
def put_rules() -> Response:
    return json_response(program_rules.update_rules(parse_body(bp.current_request, schemas_admin.RulesUpdateRequest), _actor()))


@admin_route("/v1/admin/earn-preview", "POST")
def preview_earning() -> Response:
    """A dry run of the earn rules on a basket: nothing is written."""
    return json_response(earn_preview.preview_earning(parse_body(bp.current_request, schemas_admin.EarnPreviewRequest)))


# --- audit ------------------------------------------------------------------------------------


@admin_route("/v1/admin/audit", "GET")
def list_audit() -> Response:
    member_id, day = _exactly_one_of(_query(), "member_id", "day")
    on: date | None = None
    if day is not None:
        try:
            on = date.fromisoformat(day) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day, re.ASCII) else None
        except ValueError:
            on = None
        if on is None:
            raise ValidationFailed.single("day", "a date YYYY-MM-DD")
    else:
        _identifier(member_id or "", "member_id")
    limit, cursor = _page_args()
    return json_response(audit.audit_page(member_id=member_id, day=on, limit=limit, cursor=cursor))


# --- analytics (docs/analytics.md) --------------------------------------------------------------


@admin_route("/v1/admin/analytics/refreshes", "POST")
def refresh_analytics() -> Response:
    """Export the table and rebuild member_facts and the KPIs: 409 while a refresh runs. Deployed,
    202 at once (the export takes minutes); locally the export is instant and the answer is 201."""
    request = bp.current_request
    reason = parse_body(request, schemas_admin.OptionalReasonRequest).reason if (request.raw_body or b"").strip() else None
    view, done = analytics.request_refresh(_actor(), reason=reason)
    return json_response(view, status=201 if done else 202)


@admin_route("/v1/admin/analytics/refreshes/latest", "GET")
def latest_refresh() -> Response:
    return json_response(analytics.current_refresh())


@admin_route("/v1/admin/analytics/kpis", "GET")
def analytics_kpis() -> Response:
    """The KPIs of the latest refresh (a snapshot: no query per request), with their data_as_of."""
    return json_response(analytics.latest_kpis())
