"""The caller of a member route: the member a verified token acts for, from which token epoch.

The token authorizer (api/routes/members.py `member_token`) checks the token alone (signature,
issuer, audience, expiry: `authenticate`, no table read) and hands its member id and epoch to
the route. Whether the membership is still open and the token was not signed out since is
decided on the member read every member use case does anyway (`MemberSession.admit`), so it
costs no round trip and holds at once, not after the gateway's 30 s cache of the authorizer's
answer. A write's unit of work is conditioned on the member's version, so a sign-out or a
closure between the read and the write makes it read (and refuse) again.

`api/routes/members.member_route` gives every member route its session and refuses (500,
logged) an answer given without the session having been admitted: a route that forgets the
check fails its first test instead of serving a signed-out token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..domain import tokens
from ..domain.errors import Unauthorized
from ..domain.membership import admits_member_token
from ..lazy import lazy_module

if TYPE_CHECKING:
    from ..store import members, parameters
    from ..store.models import Member
else:
    members = lazy_module("chalicelib.store.members")
    parameters = lazy_module("chalicelib.store.parameters")

REFUSED = "The membership is closed or this token was signed out"


def authenticate(token: str) -> tokens.AccessClaims:
    """Who a bearer token was issued to, and in which epoch: a valid token (signature, issuer,
    audience, expiry). Raises tokens.InvalidToken otherwise. Reads nothing from the table: the
    member is checked by the route's use case (`MemberSession.admit`)."""
    return tokens.access_claims(parameters.signing_key(), token)


@dataclass(eq=False)
class MemberSession:
    """The member a route acts for (the token's subject, never an id from the path or body) and
    the token's epoch. `admitted` once the member read was checked against the token."""

    member_id: str
    epoch: int
    admitted: bool = field(default=False, init=False)

    def _admit(self, status: str | None, erased: bool, member_epoch: int) -> None:
        if not admits_member_token(status, erased, member_epoch, self.epoch):
            raise Unauthorized(REFUSED)
        self.admitted = True

    def admit(self, member: Member | None) -> Member:
        """The member as read, if this token still acts for them; 401 unauthorized otherwise (no
        member, a closed or erased membership, a token from before a sign-out)."""
        if member is None:
            raise Unauthorized(REFUSED)
        self._admit(member.status, bool(member.erased), int(member.token_epoch or 0))
        return member

    def check(self) -> None:
        """For a use case that reads nothing of the member otherwise: one small read (three
        attributes), then as `admit`."""
        state = members.session_of(self.member_id)
        if state is None:
            raise Unauthorized(REFUSED)
        self._admit(state.status, state.erased, state.token_epoch)


def open_member(session: MemberSession) -> Member:
    """The caller's own member (one strongly consistent read), admitted (`MemberSession.admit`)."""
    return session.admit(members.get_member(session.member_id))
