"""Request bodies of the SMS providers' delivery receipts (docs/sms-providers.md, "Delivery
receipts"): fields the providers add later are ignored, not refused; the phone they repeat is
read by nobody."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints

MAX_RECEIPTS = 100  # a batch (Alibaba pushes up to 100 reports at once)
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(max_length=512)]


class _FromProvider(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class TencentReport(_FromProvider):
    sid: MessageId
    report_status: Literal["SUCCESS", "FAIL"]
    errmsg: Text = ""
    description: Text = ""


class AliyunReport(_FromProvider):
    biz_id: MessageId
    success: bool
    err_code: Text = ""
    err_msg: Text = ""


class TencentReports(RootModel[Annotated[list[TencentReport], Field(min_length=1, max_length=MAX_RECEIPTS)]]):
    pass


class AliyunReports(RootModel[Annotated[list[AliyunReport], Field(min_length=1, max_length=MAX_RECEIPTS)]]):
    pass
