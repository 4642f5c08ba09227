"""WeChat sign-in, binding and subscription bodies (usecases/wechat.py, docs/wechat.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from .fields import Body, PhoneText

# WeChat's codes are opaque short strings; anything longer or with odd characters is not one.
WechatCode = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]
TemplateId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")]


class WechatSessionRequest(Body):
    code: WechatCode
    # wx.login's code in the mini-program, or the OAuth redirect's code on an official-account page.
    app: Literal["mini_program", "official_account"] = "mini_program"


class WechatBindRequest(Body):
    wechat_ticket: Annotated[str, StringConstraints(min_length=20, max_length=2048)]
    # Either our SMS code for the phone (POST /v1/auth/code or /v1/signup sent it) ...
    phone: PhoneText | None = None
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] | None = None
    # ... or getPhoneNumber's code (mini-program only): WeChat verified the phone.
    phone_code: WechatCode | None = None

    @model_validator(mode="after")
    def _one_proof(self) -> WechatBindRequest:
        by_sms = self.phone is not None or self.code is not None
        if by_sms == (self.phone_code is not None):
            raise ValueError("give either phone and code (an SMS code) or phone_code (getPhoneNumber), not both")
        if by_sms and (self.phone is None or self.code is None):
            raise ValueError("an SMS proof needs both phone and code")
        return self


class WechatSubscriptionsRequest(Body):
    accepted: list[TemplateId] = Field(default_factory=list, max_length=20)
    rejected: list[TemplateId] = Field(default_factory=list, max_length=20)
