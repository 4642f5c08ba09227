"""WeChat sign-in (mini-program and official-account pages) and the member's WeChat binding.

`POST /v1/wechat/sessions` exchanges the client's WeChat code for the openid (code2Session, or the
official account's OAuth exchange). An openid bound to a member signs that member in; any other
gets a WeChat ticket (signed, 10 minutes, naming the openid and no member). With the ticket the
client proves a phone, by our SMS code (`enrolment.verify`, the binding in its transaction) or by
WeChat's getPhoneNumber, and only then is the openid bound to the phone's member (a new member
when the phone is nobody's: enrolled as a signup would, activated as WeChat proved the phone).
Binding, rebinding and unbinding are audited; closing a membership releases its bindings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..api.schemas.wechat import WechatBindRequest, WechatSessionRequest, WechatSubscriptionsRequest
from ..domain import tokens
from ..domain.clock import today_in, utcnow
from ..domain.errors import Forbidden, HuiyuanError, Unauthorized, ValidationFailed, WechatNotBound, WechatTaken
from ..domain.membership import Status, activated, is_open
from ..domain.rules import ProgramRules
from ..domain.wechat import APPS, App, InvalidTicket, WechatIdentity, issue_ticket, ticket_identity
from ..notify import wechat as wechat_api
from ..notify.sender import Message, send_best_effort
from ..observability import count, logger
from ..store import wechat as wechat_store
from ..store.members import add_enrolment, field_updates, get_member, member_id_for_phone
from ..store.parameters import load_rules, signing_key, wechat_ticket_key
from ..store.unit_of_work import Cancelled, UnitOfWork, run
from .audit import Change, add_audit
from .common import activity_actions, mark_new_member_activity, member_answer, phone_or_error
from .enrolment import SignedIn, new_member, verify
from .joining import add_joining_benefits
from .sessions import MemberSession, open_member

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action

    from ..store.models import Member


@dataclass(frozen=True)
class PhoneRequired:
    """The openid is nobody's yet: prove a phone with this ticket."""

    ticket: str
    expires_in: int
    app: App

    def body(self) -> dict[str, Any]:
        return {"status": "phone_required", "wechat_ticket": self.ticket, "expires_in": self.expires_in, "app": self.app}


def _token_for(member: Member, rules: ProgramRules, now: datetime) -> SignedIn:
    token = tokens.issue_access_token(signing_key(), member.member_id, now, rules.access_token_ttl_seconds, epoch=int(member.token_epoch or 0))
    return SignedIn(access_token=token, expires_in=rules.access_token_ttl_seconds, member=member_answer(member, rules, now))


def signed_in_body(signed_in: SignedIn) -> dict[str, Any]:
    return {"status": "signed_in", **signed_in.body()}


def start_session(request: WechatSessionRequest) -> SignedIn | PhoneRequired:
    """Who the WeChat code names: the bound member, signed in; else a ticket to prove a phone
    with. Nothing is written either way (WeChat failing or timing out: 502/503, nothing written)."""
    rules = load_rules()
    identity = wechat_api.code_to_session(request.code) if request.app == "mini_program" else wechat_api.oauth_identity(request.code)
    now = utcnow()
    member_id = wechat_store.bound_member_id(wechat_api.appid(identity.app), identity.openid)
    member = get_member(member_id) if member_id else None
    if member is not None and member.status != Status.PENDING and is_open(member.status) and not member.erased:
        count("WechatSignIns")
        logger.info("member signed in", extra={"member_id": member.member_id, "channel": f"wechat_{identity.app}"})
        return _with_holding_joined(identity, _token_for(member, rules, now))
    ticket = issue_ticket(wechat_ticket_key(), identity, now)
    from ..domain.wechat import TICKET_TTL_SECONDS

    return PhoneRequired(ticket, TICKET_TTL_SECONDS, identity.app)


def _identity(ticket: str) -> WechatIdentity:
    try:
        return ticket_identity(wechat_ticket_key(), ticket)
    except InvalidTicket:
        raise Unauthorized("The WeChat ticket is invalid or expired; sign in with WeChat again") from None


def _openid_tail(openid: str | None) -> str | None:
    return f"…{openid[-6:]}" if openid else None


def add_binding(uow: UnitOfWork, member: Member, identity: WechatIdentity, rules: ProgramRules, now: datetime) -> list[Action]:
    """Bind the openid to `member` in `uow` (part `wechat` fails if another member holds it), the
    bind or rebind audited. Returns the member's writes."""
    previous = wechat_store.binding_of(member, identity.app)
    if previous and previous.get("openid") == identity.openid:
        return []  # already bound: signing in again with the same WeChat account changes nothing
    action = "member.wechat.rebind" if previous else "member.wechat.bind"
    before = {"app": identity.app, "openid": _openid_tail(previous.get("openid"))} if previous else None
    after = {"app": identity.app, "openid": _openid_tail(identity.openid)}
    add_audit(uow, Change("member", action, "member", member.member_id, before, after, member_id=member.member_id), rules, now)
    return wechat_store.bind(uow, member, identity, wechat_api.appid(identity.app), now)


def _taken(cancelled: Cancelled) -> None:
    if "wechat" in cancelled.failed:
        raise WechatTaken() from cancelled


def _with_holding_joined(identity: WechatIdentity, signed_in: SignedIn) -> SignedIn:
    """Pay-to-join: the points the openid earned before it was bound (its holding) join the member
    it is bound to now, and the answer shows them. After the binding's own commit: should this
    step fail, the binding stands and the next WeChat sign-in joins them (usecases/pay_to_join.py)."""
    from .pay_to_join import join_holding

    member_id = str(signed_in.member["member_id"])
    try:
        moved = join_holding(identity.app, identity.openid, member_id)
    except HuiyuanError as exc:
        logger.warning("pay-to-join holding not joined yet", extra={"member_id": member_id, "code": exc.code})
        return signed_in
    member = get_member(member_id) if moved else None
    return _token_for(member, load_rules(), utcnow()) if member is not None else signed_in


def _phone_enrolled_meanwhile(cancelled: Cancelled) -> None:
    """A new member's binding: a phone enrolled meanwhile (part `guard`) may be that very
    request's twin, holding the openid too; start over and find the phone's member. Otherwise
    an openid held by another member is `wechat_taken`."""
    if "guard" not in cancelled.failed:
        _taken(cancelled)


def bind(request: WechatBindRequest) -> SignedIn:
    """Prove a phone with the ticket, then bind and sign in (see the module docstring)."""
    identity = _identity(request.wechat_ticket)
    return _with_holding_joined(identity, _bind_proven(identity, request))


def _bind_proven(identity: WechatIdentity, request: WechatBindRequest) -> SignedIn:
    if request.phone_code is None:
        assert request.phone is not None and request.code is not None  # the request model checks it
        from ..api.schemas.members import VerifyRequest

        binding = lambda uow, member, rules, now: add_binding(uow, member, identity, rules, now)  # noqa: E731
        signed_in = verify(VerifyRequest(phone=request.phone, code=request.code), bind=binding)
        logger.info("wechat bound", extra={"member_id": signed_in.member["member_id"], "app": identity.app, "proof": "sms"})
        return signed_in
    if identity.app != "mini_program":
        raise ValidationFailed.single("phone_code", "getPhoneNumber's code comes from the mini-program only; prove the phone with an SMS code")
    return _bind_with_wechat_phone(identity, request.phone_code)


def _bind_with_wechat_phone(identity: WechatIdentity, phone_code: str) -> SignedIn:
    """WeChat verified the phone (getPhoneNumber): the phone's member, or a new one enrolled as a
    signup enrols, is activated if pending, bound and signed in, all in one transaction: an
    openid another member holds (409 wechat_taken) leaves nothing behind, not even the new member."""
    rules = load_rules()
    phone = phone_or_error(wechat_api.phone_number(phone_code).phone, rules, field="phone_code")
    now = utcnow()
    today = today_in(rules.zone, now)

    def attempt(uow: UnitOfWork) -> tuple[Member, bool]:
        existing = member_id_for_phone(phone)
        member = get_member(existing) if existing is not None else new_member(phone, rules, now)
        if member is None or not is_open(member.status) or member.erased:
            raise Forbidden("This membership cannot sign in")
        first_time = member.status == Status.PENDING
        if existing is None:
            # A new member: its writes are applied to the item put by the enrolment (one item once
            # in a transaction); a phone enrolled meanwhile fails part `guard`: start over and find it.
            mark_new_member_activity(member, rules, today, purchased=False)
            member.phone_verified_at = now
            add_joining_benefits(uow, member, rules, now, today)
            member.status, member.activated_at = activated(member.status), now
            add_binding(uow, member, identity, rules, now)
            add_enrolment(uow, member)
        else:
            actions = activity_actions(member, rules, today)
            if member.phone_verified_at is None:
                actions += field_updates(member, {"phone_verified_at": now})
            if first_time:
                actions += add_joining_benefits(uow, member, rules, now, today)
                actions += field_updates(member, {"status": activated(member.status), "activated_at": now})
            actions += add_binding(uow, member, identity, rules, now)
            uow.update("member", member, actions)
        uow.commit(_phone_enrolled_meanwhile if existing is None else _taken)
        if existing is None:
            count("Signups")
            logger.info("member enrolled", extra={"member_id": member.member_id, "via": "wechat"})
        return member, first_time

    member, first_time = run(attempt)
    count("Verifications")
    if first_time:
        count("Activations")
        welcome = f" and {rules.welcome_points} welcome points are yours." if rules.welcome_points else "."
        send_best_effort(
            Message(channel="sms", to=member.phone, kind="welcome", body=f"[{rules.program_name}] Welcome! Your membership is active{welcome}")
        )
    logger.info("wechat bound", extra={"member_id": member.member_id, "app": identity.app, "proof": "wechat_phone", "first_time": first_time})
    return _token_for(member, rules, now)


def binding_view(member: Member) -> dict[str, Any]:
    bindings = wechat_store.bindings_of(member)
    return {
        "bindings": [{"app": app, "bound_at": bindings[app].get("bound_at")} for app in APPS if app in bindings],
        "subscriptions": [{"template_id": t, "remaining": n} for t, n in sorted(wechat_store.subscriptions_of(member).items())],
    }


def my_wechat(session: MemberSession) -> dict[str, Any]:
    return binding_view(open_member(session))


def unbind_mine(session: MemberSession, app: App | None) -> dict[str, Any]:
    """The member unbinds their WeChat account (one app, or every one), audited. 409
    wechat_not_bound when there is nothing to unbind."""
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> Member:
        member = open_member(session)
        now = utcnow()
        bound = wechat_store.bindings_of(member)
        apps = [a for a in APPS if a in bound and (app is None or a == app)]
        if not apps:
            raise WechatNotBound()
        actions: list[Action] = []
        for each in apps:
            before = {"app": each, "openid": _openid_tail(bound[each].get("openid"))}
            add_audit(uow, Change("member", "member.wechat.unbind", "member", member.member_id, before, None, member_id=member.member_id), rules, now)
            actions += wechat_store.unbind(uow, member, each, wechat_api.appid(each))
        uow.update("member", member, actions)
        uow.commit()
        return member

    member = run(attempt)
    logger.info("wechat unbound", extra={"member_id": member.member_id})
    return binding_view(member)


def record_subscriptions(session: MemberSession, request: WechatSubscriptionsRequest) -> dict[str, Any]:
    """What the member answered wx.requestSubscribeMessage: each accepted one-time template may
    carry one more message (at most MAX_PENDING_SENDS waiting), a rejected one none. Only
    templates the program uses, and only for a member bound in the mini-program."""
    rules = load_rules()
    known = {template.template_id for template in rules.wechat_templates.values()}
    unknown = sorted((set(request.accepted) | set(request.rejected)) - known)
    if unknown:
        raise ValidationFailed.single("accepted", f"not a template this program sends: {', '.join(unknown)}")

    def attempt(uow: UnitOfWork) -> Member:
        member = open_member(session)
        if not wechat_store.binding_of(member, "mini_program"):
            raise WechatNotBound("Sign in with WeChat in the mini-program before subscribing to its messages")
        subscriptions = wechat_store.subscriptions_of(member)
        for template in request.accepted:
            subscriptions[template] = min(subscriptions.get(template, 0) + 1, MAX_PENDING_SENDS)
        for template in request.rejected:
            subscriptions.pop(template, None)
        uow.update("member", member, wechat_store.subscriptions_update(member, subscriptions))
        uow.commit()
        return member

    return binding_view(run(attempt))


MAX_PENDING_SENDS = 50


def app_or_error(raw: str | None) -> App | None:
    if raw is None:
        return None
    for app in APPS:
        if raw == app:
            return app
    raise ValidationFailed.single("app", "must be mini_program or official_account")


def withdraw_subscriptions(session: MemberSession) -> dict[str, Any]:
    """The member withdraws consent to every WeChat subscription message: none is sent any more
    until they subscribe again."""

    def attempt(uow: UnitOfWork) -> Member:
        member = open_member(session)
        if wechat_store.subscriptions_of(member):
            uow.update("member", member, wechat_store.subscriptions_update(member, {}))
            uow.commit()
        return member

    member = run(attempt)
    logger.info("wechat subscriptions withdrawn", extra={"member_id": member.member_id})
    return binding_view(member)
