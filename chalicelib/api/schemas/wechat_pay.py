"""Request bodies of the WeChat Pay routes (docs/wechat-pay.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from .fields import WHOLE_NUMBER, Body

# A top-up paid in WeChat: at most ¥50,000.00 at once (WeChat Pay's own limits are per payer).
MAX_WECHAT_TOPUP = 5_000_000


class WeChatTopupRequest(Body):
    amount: Annotated[StrictInt, Field(ge=1, le=MAX_WECHAT_TOPUP), WHOLE_NUMBER]


class _FromWeChatPay(BaseModel):
    # WeChat Pay may add fields to its notifications: they are ignored, not refused.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class WeChatPayResource(_FromWeChatPay):
    algorithm: Literal["AEAD_AES_256_GCM"]
    ciphertext: Annotated[str, StringConstraints(min_length=1, max_length=65536)]
    nonce: Annotated[str, StringConstraints(min_length=12, max_length=12)]
    associated_data: Annotated[str, StringConstraints(max_length=256)] = ""
    original_type: Annotated[str, StringConstraints(max_length=64)] | None = None


class WeChatPayNotification(_FromWeChatPay):
    """A notification's envelope (validated once its signature is verified; the resource is
    decrypted after)."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    event_type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    resource: WeChatPayResource
    create_time: Annotated[str, StringConstraints(max_length=64)] | None = None
    resource_type: Annotated[str, StringConstraints(max_length=64)] | None = None
    summary: Annotated[str, StringConstraints(max_length=256)] | None = None
