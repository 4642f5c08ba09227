"""A member's push devices (docs/push.md): registered from the app, removed on request, on
sign-out, and when SNS reports them unusable. Tokens never reach the logs."""

from __future__ import annotations

from typing import Any

from ..domain.clock import iso, utcnow
from ..domain.errors import InvalidState, NotFound
from ..notify import push
from ..observability import count, logger
from ..store import devices
from ..store.members import get_member
from ..store.models import Member
from ..store.unit_of_work import UnitOfWork, run
from .common import Answer, created
from .sessions import MemberSession


def _view(device_id: str, device: dict[str, Any]) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "platform": device["platform"],
        "app_version": device.get("app_version"),
        "registered_at": device["registered_at"],
    }


def register_device(session: MemberSession, platform: str, token: str, app_version: str | None) -> Answer:
    """201 and the device; the same token again for the same member: 200 and the same device (its
    app version updated). A token another member registered moves to the caller. At most
    devices.MAX_DEVICES per member: the oldest goes."""
    digest = devices.token_digest(platform, token)
    device_id = devices.device_id_for(digest)
    member_id = session.member_id
    dropped: list[str] = []

    def attempt(uow: UnitOfWork) -> Answer:
        dropped.clear()
        now = utcnow()
        member, guard = devices.registration_reads(member_id, digest)
        member = session.admit(member)
        held = devices.devices_of(member)
        mine = guard is not None and guard.member_id == member_id and device_id in held
        if mine and held[device_id].get("app_version") == app_version:
            return Answer(200, _view(device_id, held[device_id]))
        if mine:
            endpoint = str(held[device_id]["endpoint"])
        else:
            try:
                endpoint = push.create_endpoint(platform, token)
            except push.PushUnavailable:
                raise InvalidState(f"Push notifications through {platform} are not available") from None
        entry = {"platform": platform, "endpoint": endpoint, "token_hash": digest, "app_version": app_version, "registered_at": iso(now)}
        after = {**held, device_id: entry}
        while len(after) > devices.MAX_DEVICES:
            oldest = min((d for d in after if d != device_id), key=lambda d: str(after[d]["registered_at"]))
            gone = after.pop(oldest)
            devices.release_token(uow, str(gone["token_hash"]), member_id, part=f"drop_{oldest}")
            dropped.append(str(gone["endpoint"]))
        uow.update("member", member, devices.devices_update(after))
        devices.hold_token(uow, digest, member_id, device_id, now, held_by=guard.member_id if guard else None)
        if guard is not None and guard.member_id != member_id:
            previous = get_member(guard.member_id)
            if previous is not None:
                theirs = devices.devices_of(previous)
                if theirs.pop(device_id, None) is not None:
                    uow.update("previous", previous, devices.devices_update(theirs))
        uow.commit()
        return Answer(200, _view(device_id, entry)) if mine else created(_view(device_id, entry))

    answer = run(attempt, one_at_a_time=member_id)
    for endpoint in dropped:
        push.delete_endpoint(endpoint)
    if answer.status == 201:
        count("DevicesRegistered")
        logger.info("push device registered", extra={"member_id": member_id, "platform": platform})
    return answer


def remove_device(session: MemberSession, device_id: str) -> None:
    """Forget one of the caller's devices (404 if it is not theirs) and delete its endpoint."""
    member_id = session.member_id

    def attempt(uow: UnitOfWork) -> str:
        member = session.admit(get_member(member_id))
        held = devices.devices_of(member)
        device = held.pop(device_id, None)
        if device is None:
            raise NotFound(f"No device {device_id}")
        uow.update("member", member, devices.devices_update(held))
        devices.release_token(uow, str(device["token_hash"]), member_id)
        uow.commit()
        return str(device["endpoint"])

    push.delete_endpoint(run(attempt, one_at_a_time=member_id))
    logger.info("push device removed", extra={"member_id": member_id})


def forget_all_devices(uow: UnitOfWork, member: Member) -> list[str]:
    """In the caller's unit of work (sign-out): the member's devices go, with their guards; returns
    their endpoints, to delete after the commit (`delete_endpoints`). The caller writes the
    member with `devices_update({})` among its own actions (`forget_all_actions`)."""
    held = devices.devices_of(member)
    for n, device in enumerate(held.values()):
        devices.release_token(uow, str(device["token_hash"]), member.member_id, part=f"guard{n}")
    return [str(d["endpoint"]) for d in held.values()]


def forget_all_actions(member: Member) -> list[Any]:
    return devices.devices_update({}) if devices.devices_of(member) else []


def delete_endpoints(endpoints: list[str]) -> None:
    for endpoint in endpoints:
        push.delete_endpoint(endpoint)


def forget_endpoints(member_id: str, endpoints: tuple[str, ...]) -> None:
    """Devices whose endpoint SNS reported unusable (already deleted there) leave the member."""
    gone = set(endpoints)

    def attempt(uow: UnitOfWork) -> None:
        member = get_member(member_id)
        if member is None:
            return
        held = devices.devices_of(member)
        dropped = {d: v for d, v in held.items() if v.get("endpoint") in gone}
        if not dropped:
            return
        uow.update("member", member, devices.devices_update({d: v for d, v in held.items() if d not in dropped}))
        for n, device in enumerate(dropped.values()):
            devices.release_token(uow, str(device["token_hash"]), member_id, part=f"guard{n}")
        uow.commit()

    run(attempt, one_at_a_time=member_id)
    logger.info("push devices removed as unusable", extra={"member_id": member_id, "devices": len(gone)})
