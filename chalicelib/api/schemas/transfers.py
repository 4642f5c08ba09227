"""A member's points transfer and push device bodies (usecases/transfers.py, usecases/devices.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictInt, StringConstraints

from .fields import WHOLE_NUMBER, Body, DocumentedName, PhoneText, _clean_name


class TransferRequest(Body):
    to_phone: PhoneText
    points: Annotated[StrictInt, Field(ge=1, le=10_000_000), WHOLE_NUMBER]
    note: Annotated[str, StringConstraints(min_length=1, max_length=60), AfterValidator(_clean_name), DocumentedName] | None = None


class DeviceRequest(Body):
    platform: Literal["apns", "fcm"]
    # APNs tokens are 64 hex digits; FCM registration tokens run to ~160-250 printable characters.
    token: Annotated[str, StringConstraints(min_length=32, max_length=4096, pattern=r"^[A-Za-z0-9_:\-.]+$")]
    app_version: Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._+\-]+$")] | None = None
