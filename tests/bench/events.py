"""Business events and webhooks (issue 16): events published per committed write over a run of
mixed requests, and webhook delivery latency, through the app in process against moto, with the
local stage's pump (localstage/events.py) polling the stream and the delivery queue every 0.5 s,
as `make run` does, and a receiver on loopback.

A committed write is a request answered 201 that moved a balance: in every ten requests, six
purchases, a partial refund and, every other ten, an operator's adjustment; its event is the
ledger event of its type naming its id (`data.ref`: the order, the order refunded, the
adjustment). Two replays of earlier orders (answered 200) and, every other ten, a refund larger
than the order (refused) write nothing and must publish nothing. Latency: from the request's answer to the signed delivery's arrival at the receiver.

    .venv/bin/python -m tests.bench.events [--requests 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import tests.conftest  # noqa: F401  (the suite's environment: moto, never an account)

REQUESTS = 1000
RATIO_BUDGET = 1.0


@dataclass(frozen=True)
class EventsResult:
    requests: int
    committed: int
    matched: int
    stray: int  # events for replayed or refused requests
    p50_ms: float
    p99_ms: float

    @property
    def ratio(self) -> float:
        return self.matched / self.committed if self.committed else 0.0

    @property
    def verdict(self) -> str:
        return "PASS" if self.ratio == RATIO_BUDGET and self.stray == 0 else "FAIL"


def measure(requests: int = REQUESTS) -> EventsResult:
    import boto3
    from moto import mock_aws

    from chalicelib.settings import get_settings
    from chalicelib.store.parameters import clear_caches
    from localstage.aws import light_transaction_snapshots, untracked_models
    from localstage.bootstrap import bootstrap
    from localstage.events import EventPump
    from tests.support.client import ApiClient
    from tests.support.rules import SUITE_RULES

    # (event type, ref) -> first arrival / the event ids that arrived for it
    arrived: dict[tuple[str, str], float] = {}
    ids_of: dict[tuple[str, str], set[str]] = {}

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            event = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
            key = (str(event["type"]), str(event["data"].get("ref")))
            arrived.setdefault(key, time.monotonic())
            ids_of.setdefault(key, set()).add(event["id"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # moto as the local stack runs it: without these, every transaction deep-copied the table (and its
    # stream) and moto kept every copy: ~50 MB a second, OOM-killed mid-run.
    with mock_aws(), light_transaction_snapshots(), untracked_models():
        clear_caches()
        session = boto3.Session()
        bootstrap(get_settings(), session, rules_json=SUITE_RULES.model_dump_json())
        from app import app

        api = ApiClient(app)
        merchant = {"x-api-key": "local-dev-key"}
        hook = api.post("/v1/admin/webhooks", {"url": f"http://127.0.0.1:{server.server_address[1]}/h", "event_types": ["points.*"]})
        assert hook.status == 201, hook.text
        pump = EventPump(session)
        answered: dict[tuple[str, str], float] = {}
        committed: set[tuple[str, str]] = set()
        silent: set[tuple[str, str]] = set()
        phones = [f"+86137{n:08d}" for n in range(20)]
        pump_lock = threading.Lock()
        stop = threading.Event()

        def pumping() -> None:
            while not stop.is_set():
                with pump_lock:
                    pump.pump()
                stop.wait(0.5)

        threading.Thread(target=pumping, daemon=True).start()
        member_of: dict[str, str] = {}
        for n in range(requests):
            phone = phones[n % len(phones)]
            kind = n % 10
            with pump_lock:  # moto in process is not thread-safe (shared/TOOL-NOTES.md)
                if kind < 6:  # a purchase: points.earned
                    order = f"o-{n}"
                    reply = api.post("/v1/purchases", {"order_id": order, "amount": 5000 + n, "currency": "CNY", "phone": phone}, headers=merchant)
                    if reply.status == 201:
                        member_of[phone] = reply.json()["member_id"]
                    key = ("points.earned", order)
                elif kind < 8:  # a replay of an earlier order: nothing new
                    order = f"o-{n - kind}"
                    reply = api.post(
                        "/v1/purchases", {"order_id": order, "amount": 5000 + n - kind, "currency": "CNY", "phone": phone}, headers=merchant
                    )
                    key = ("replay", f"{n}")
                elif kind == 8:  # a partial refund of an earlier order: points.refunded (its ref is the order)
                    order = f"o-{n - 8}"
                    reply = api.post(f"/v1/purchases/{order}/refunds", {"refund_id": f"r-{n}", "amount": 1000}, headers=merchant)
                    key = ("points.refunded", order)
                elif (n // 10) % 2:  # an operator's adjustment: points.adjusted
                    adjustment = f"adj-{n}"
                    member_id = member_of[phones[(n - 9) % len(phones)]]
                    body = {"adjustment_id": adjustment, "points": 7, "reason": "goodwill"}
                    reply = api.post(f"/v1/admin/members/{member_id}/adjustments", body)
                    key = ("points.adjusted", adjustment)
                else:  # a refund larger than the purchase: refused, nothing written
                    order = f"o-{n - 9}"
                    reply = api.post(f"/v1/purchases/{order}/refunds", {"refund_id": f"rx-{n}", "amount": 10_000_000}, headers=merchant)
                    key = ("points.refunded", f"refused-{n}")
            if reply.status == 201:
                committed.add(key)
                answered[key] = time.monotonic()
            else:
                silent.add(key)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not committed <= set(arrived):
            time.sleep(0.2)
        stop.set()
        with pump_lock:
            pump.pump()
    server.shutdown()
    latencies = sorted((arrived[r] - answered[r]) * 1000 for r in committed if r in arrived)
    matched = len(committed & set(arrived))
    # Events for what did not commit, and a second event for a committed write (a replay's).
    stray = len(silent & set(arrived)) + sum(len(ids_of[r]) - 1 for r in committed if r in ids_of)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))] if latencies else float("nan")
    return EventsResult(requests, len(committed), matched, stray, statistics.median(latencies) if latencies else float("nan"), p99)


def rows(result: EventsResult) -> list[tuple[str, str, str, str, str, str, str, str]]:
    detail = (
        f"{result.requests} mixed requests (purchases, partial refunds, adjustments, replays, refused refunds): {result.committed} committed writes, "
        f"{result.matched} with their event, {result.stray} events for writes that did not commit"
    )
    return [
        ("Events published per committed write", "= 1.00", f"{result.ratio:.2f}", result.verdict, detail, "", "", ""),
        (
            "Webhook delivery latency (local)",
            "(report)",
            f"p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms",
            "",
            "answer -> stream poll (0.5 s) -> bus + queue -> worker -> receiver on loopback",
            "",
            "",
            "",
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=REQUESTS)
    measured = measure(parser.parse_args().requests)
    for row in rows(measured):
        print(" | ".join(row[:5]))
