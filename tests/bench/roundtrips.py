"""DynamoDB round trips per request: the app in process, AWS in moto (`mock_aws`).

Each measured request follows one warm-up request of the same kind, so the
container's caches (merchant keys, SSM parameters, clients) are warm: what is
counted is the steady state of a warm Lambda container.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .recorder import Call, DynamoDBCalls, Recorder

MERCHANT = {"x-api-key": "local-dev-key"}


@dataclass
class Measured(DynamoDBCalls):
    label: str
    budget: int | None
    status: int
    expected_status: int
    calls: list[Call] = field(default_factory=list)
    note: str = ""
    reply: Any = None

    @property
    def others(self) -> list[Call]:
        return [c for c in self.calls if c.service != "dynamodb"]

    @property
    def verdict(self) -> str:
        if self.status != self.expected_status:
            return f"ERROR (HTTP {self.status}, expected {self.expected_status})"
        if self.budget is None:
            return "report"
        return "PASS" if self.round_trips <= self.budget else "OVER"


class _Driver:
    def __init__(self, api: Any, recorder: Recorder, outbox: str, session: Any, table_name: str) -> None:
        self.api = api
        self.recorder = recorder
        self.outbox = outbox
        self.session = session
        self.table_name = table_name
        self._phones = 0

    def phone(self) -> str:
        self._phones += 1
        return f"+86137{self._phones:08d}"

    def measure(self, label: str, budget: int | None, expected: int, request: Callable[[], Any], note: str = "") -> Measured:
        self.recorder.start()
        try:
            reply = request()
        finally:
            calls = self.recorder.stop()
        return Measured(label, budget, reply.status, expected, calls, note, reply)

    # -- setup through the API (not measured) --------------------------------

    def expect(self, reply: Any, status: int) -> Any:
        if reply.status != status:
            raise RuntimeError(f"setup request answered {reply.status}, expected {status}: {reply.text[:300]}")
        return reply

    def signup(self, phone: str) -> None:
        self.expect(self.api.post("/v1/signup", {"phone": phone, "name": "张伟"}), 202)

    def code(self, phone: str) -> str:
        from tests.support.outbox import last_code

        return last_code(self.outbox, phone)

    def verify(self, phone: str) -> Any:
        return self.api.post("/v1/auth/verify", {"phone": phone, "code": self.code(phone)})

    def request_code(self, phone: str) -> None:
        # The resend throttle allows one code a minute per phone: lift it (setup only).
        from chalicelib.store import keys

        self.session.client("dynamodb").delete_item(TableName=self.table_name, Key={"pk": {"S": keys.phone_pk(phone)}, "sk": {"S": keys.SENT}})
        self.expect(self.api.post("/v1/auth/code", {"phone": phone}), 202)

    def turn_the_month(self, member_id: str) -> None:
        """Setup only: the member as on the first of a month. The lot of the month they earned in
        becomes the previous month's (on the member and as its Lot item), so their next points
        open a new lot (store/ledger.open_lot): the month's first purchase."""
        from chalicelib.domain.points import add_months, lot_expires_on
        from chalicelib.store import keys
        from chalicelib.store.members import member_shard

        client = self.session.client("dynamodb")
        pk = keys.member_pk(member_id)
        lots = client.get_item(TableName=self.table_name, Key={"pk": {"S": pk}, "sk": {"S": keys.PROFILE}})["Item"]["lots"]["M"]
        month = max(lots)
        year, mon = add_months(int(month[:4]), int(month[5:7]), -1)
        before = f"{year:04d}-{mon:02d}"
        client.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": pk}, "sk": {"S": keys.PROFILE}},
            UpdateExpression="SET lots.#before = lots.#month REMOVE lots.#month",
            ExpressionAttributeNames={"#before": before, "#month": month},
        )
        lot = client.get_item(TableName=self.table_name, Key={"pk": {"S": pk}, "sk": {"S": keys.lot_sk(month)}})["Item"]
        client.delete_item(TableName=self.table_name, Key={"pk": {"S": pk}, "sk": {"S": keys.lot_sk(month)}})
        expires = lot_expires_on(before, 12).isoformat()
        lot.update(
            sk={"S": keys.lot_sk(before)},
            month={"S": before},
            expires_on={"S": expires},
            expiry_bucket={"S": keys.expiry_bucket(expires, member_shard(member_id))},
            expiry_member={"S": keys.expiry_member(member_id, before)},
        )
        client.put_item(TableName=self.table_name, Item=lot)

    def purchase(self, order_id: str, amount: int, phone: str, **detail: Any) -> Any:
        body = {"order_id": order_id, "phone": phone, "amount": amount, "currency": "CNY", "store_id": "store-001", **detail}
        return self.api.post("/v1/purchases", body, headers=MERCHANT)

    def set_rules(self, **changes: Any) -> None:
        """Change the live rules as an operator would (setup only)."""
        from chalicelib.domain.rules import DEFAULT_RULES, ProgramRules
        from chalicelib.settings import get_settings
        from chalicelib.store.parameters import clear_caches

        rules = ProgramRules.model_validate({**DEFAULT_RULES.model_dump(mode="json"), **changes})
        ssm = self.session.client("ssm")
        ssm.put_parameter(Name=get_settings().rules_parameter, Value=rules.model_dump_json(), Type="String", Overwrite=True)
        clear_caches()

    def redeem(self, token: str, reward_id: str = "coffee") -> Any:
        headers = {"authorization": f"Bearer {token}", "idempotency-key": str(uuid.uuid4())}
        return self.api.post("/v1/me/redemptions", {"reward_id": reward_id}, headers=headers)

    def get(self, path: str, token: str) -> Any:
        return self.api.get(path, headers={"authorization": f"Bearer {token}"})


@contextlib.contextmanager
def in_process_app(recorder: Recorder) -> Iterator[_Driver]:
    """The app in process over moto's `mock_aws`, bootstrapped as the local stack is, with
    its INFO log lines off (the bench prints one table; they would bury it)."""
    import boto3
    from moto import mock_aws

    from chalicelib.settings import get_settings
    from chalicelib.store.parameters import clear_caches
    from chalicelib.usecases.merchants import forget_cached_keys
    from localstage.bootstrap import bootstrap
    from tests.support.client import ApiClient

    outbox = os.environ["OUTBOX_PATH"]
    with mock_aws():
        clear_caches()
        forget_cached_keys()
        Path(outbox).unlink(missing_ok=True)
        session = boto3.Session()
        settings = get_settings()
        bootstrap(settings, session)
        from app import app
        from chalicelib.observability import logger

        logger.setLevel("WARNING")
        try:
            yield _Driver(ApiClient(app), recorder, outbox, session, settings.table_name)
        finally:
            # Nothing cached from this moto account may outlive it.
            clear_caches()
            forget_cached_keys()


def measure_round_trips(recorder: Recorder) -> list[Measured]:
    """Run the scenarios; `recorder` must be installed before anything creates a client."""
    results: list[Measured] = []
    with in_process_app(recorder) as d:
        # Sign-in, first time (activation and welcome points).
        warm, member = d.phone(), d.phone()
        d.signup(warm)
        d.expect(d.verify(warm), 200)  # warm-up
        d.signup(member)
        first = d.measure("POST /v1/auth/verify (first sign-in)", 3, 200, lambda: d.verify(member), "activates, welcome points")
        results.append(first)
        token = str(d.expect(first.reply, 200).json()["access_token"])

        # Purchases by phone, for a known member.
        d.expect(d.purchase(f"ord-{uuid.uuid4().hex[:12]}", 150_000, member), 201)  # points to redeem with
        d.expect(d.purchase(f"ord-{uuid.uuid4().hex[:12]}", 12_850, member), 201)  # warm-up
        order_id = f"ord-{uuid.uuid4().hex[:12]}"
        results.append(d.measure("POST /v1/purchases (by phone)", 2, 201, lambda: d.purchase(order_id, 12_850, member), "known active member"))
        results.append(
            d.measure("POST /v1/purchases (replay)", None, 200, lambda: d.purchase(order_id, 12_850, member), "same order_id and body again")
        )
        # The month's first purchase opens its lot (a Lot item, on the expiry index); the others do not.
        d.turn_the_month(str(results[-1].reply.json()["member_id"]))
        results.append(
            d.measure(
                FIRST_OF_MONTH,
                2,
                201,
                lambda: d.purchase(f"ord-{uuid.uuid4().hex[:12]}", 12_850, member),
                "known active member, first points of the month",
            )
        )

        # Purchase by an unknown phone: enrols a pending member.
        d.expect(d.purchase(f"ord-{uuid.uuid4().hex[:12]}", 5_000, d.phone()), 201)  # warm-up
        stranger = d.phone()
        results.append(
            d.measure(
                "POST /v1/purchases (unknown phone)",
                2,
                201,
                lambda: d.purchase(f"ord-{uuid.uuid4().hex[:12]}", 5_000, stranger),
                "enrols a pending member",
            )
        )

        # Redemption.
        d.expect(d.redeem(token), 201)  # warm-up
        results.append(d.measure("POST /v1/me/redemptions", 2, 201, lambda: d.redeem(token), "coffee, unlimited stock"))

        # Reads.
        d.expect(d.get("/v1/me", token), 200)  # warm-up
        results.append(d.measure("GET /v1/me", 1, 200, lambda: d.get("/v1/me", token)))
        d.expect(d.get("/v1/me/ledger", token), 200)  # warm-up
        results.append(d.measure("GET /v1/me/ledger", 1, 200, lambda: d.get("/v1/me/ledger", token), "first page, default limit 20"))

        # Sign-in, returning member.
        d.request_code(warm)
        d.expect(d.verify(warm), 200)  # warm-up
        d.request_code(member)
        results.append(d.measure("POST /v1/auth/verify (returning)", 3, 200, lambda: d.verify(member), "active member signs in again"))

        # A purchase with 20 items under 10 active earn rules (one with a budget: its shard's
        # conditional update rides in the purchase's transaction, no extra round trip).
        from datetime import datetime
        from zoneinfo import ZoneInfo

        from .earn_rules_cpu import ten_rules, twenty_items

        d.set_rules(earn_rules=ten_rules(datetime.now(ZoneInfo("Asia/Shanghai")).date()))
        items = twenty_items()
        detail = {"items": items, "channel": "store", "payment_method": "card"}
        total = sum(i["amount"] for i in items)
        d.expect(d.purchase(f"ord-{uuid.uuid4().hex[:12]}", total, member, **detail), 201)  # warm-up (rules read)
        results.append(
            d.measure(
                ITEMS_LABEL,
                2,
                201,
                lambda: d.purchase(f"ord-{uuid.uuid4().hex[:12]}", total, member, **detail),
                "known member, 20 items, 10 earn rules incl. a budget",
            )
        )

        if not recorder.total.get("dynamodb"):
            raise RuntimeError("the botocore hook saw no DynamoDB call: the counter is not attached")
    order = {label: n for n, label in enumerate(REPORT_ORDER)}
    return sorted(results, key=lambda m: order.get(m.label, len(order)))


FIRST_OF_MONTH = "POST /v1/purchases (by phone, the month's first)"
ITEMS_LABEL = "POST /v1/purchases (20 items, 10 earn rules)"
REPORT_ORDER = (
    "POST /v1/purchases (by phone)",
    ITEMS_LABEL,
    "POST /v1/purchases (replay)",
    FIRST_OF_MONTH,
    "POST /v1/purchases (unknown phone)",
    "POST /v1/me/redemptions",
    "GET /v1/me",
    "GET /v1/me/ledger",
    "POST /v1/auth/verify (first sign-in)",
    "POST /v1/auth/verify (returning)",
)
