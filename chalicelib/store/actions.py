"""Points for actions other than purchases, as the table keeps them (usecases/actions.py).

- `ACTION#<store_id>#<event_id>` / `ACTION` (ActionEvent): a reported action's idempotency
  record (store/idempotency.py), put only if absent in the unit of work that awards its points.
- `MEMBER#<member_id>` / `ACTIONREF#<store_id>#<event_id>` (ActionRef): put beside it, so the
  member's data export finds their actions in their own partition.
- On the member item: `action_counts` (the limits' counters) and `check_in` (the last daily
  check-in), written with the member's version-conditioned update in that same unit of work:
  a counter never runs past its limit, and a day never gets two check-ins, however many
  requests race (domain/actions.py).
"""

from __future__ import annotations

from typing import Any, Unpack

from pynamodb.expressions.update import Action

from . import keys
from .members import as_dict
from .models import Member, Recording
from .models_engagement import ActionEvent, ActionRef
from .reads import item_of, member_key, read_together
from .unit_of_work import UnitOfWork


def action_key(store_id: str, event_id: str) -> tuple[str, str]:
    return keys.action_pk(store_id, event_id), keys.ACTION_SK


def member_and_action(member_id: str, store_id: str, event_id: str) -> tuple[Member | None, ActionEvent | None]:
    """The member and the action already recorded under (`store_id`, `event_id`), if any: one
    strongly consistent BatchGetItem."""
    found = read_together([member_key(member_id), action_key(store_id, event_id)])
    return item_of(Member, found.get(member_key(member_id))), item_of(ActionEvent, found.get(action_key(store_id, event_id)))


def new_action(store_id: str, event_id: str, facts: dict[str, Any], **recording: Unpack[Recording]) -> ActionEvent:
    """The action's record (not yet written: `idempotency.put_record` puts it); `facts`: its
    `merchant_store`, `member_id`, `action_type` and `points`."""
    return ActionEvent.new(action_key(store_id, event_id), event_id=event_id, store_id=store_id, **facts, **recording)


def add_action_ref(uow: UnitOfWork, member_id: str, store_id: str, event_id: str) -> None:
    """The member-partition pointer to the action's record (part `action_ref`), in its unit of work."""
    uow.put("action_ref", ActionRef(keys.member_pk(member_id), keys.action_ref_sk(store_id, event_id), store_id=store_id, event_id=event_id))


def action_counts(member: Member) -> dict[str, dict[str, Any]]:
    """The member's counters per action type (domain/actions.py), as plain dicts."""
    return {action_type: as_dict(entry) for action_type, entry in as_dict(member.action_counts).items()}


def action_counts_update(counts: dict[str, dict[str, Any]]) -> list[Action]:
    return [Member.action_counts.set(counts)]


def last_check_in(member: Member) -> dict[str, Any]:
    """The member's last daily check-in: `on` (ISO day), `streak`, `answer` (its first answer)
    and `write_token` (of the request that made it: a retry whose answer was lost is told from
    another request); {} before the first."""
    return as_dict(member.check_in)


def check_in_update(on: str, streak: int, answer: dict[str, Any], write_token: str) -> list[Action]:
    return [Member.check_in.set({"on": on, "streak": streak, "answer": answer, "write_token": write_token})]
