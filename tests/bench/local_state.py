"""What keeping the local stage's data costs: state size, and start and stop times,
for a stack with N members made through the API (docs/local-stage.md).

Each member signs up, verifies with the texted code, makes two purchases, and
one in four redeems a coffee: the request mix of a day of demos. Then the
stack is killed (SIGKILL) and started again, which replays the snapshot and
the journal left (a crash's recovery); stopped cleanly, which writes the
snapshot; and started again, which replays the snapshot (the everyday start).
After each restart every member's books must balance.

    .venv/bin/python -m tests.bench.local_state [--members 2000] [--clients 2]

Not part of `make bench`: 2,000 members took 46 minutes on 2 shared cores
(the members are made through the API, at moto's pace).
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from chalicelib.usecases.reconcile import reconcile_table
from tests.support.outbox import CODE
from tests.support.stack import RunningStack, running_stack

MERCHANT = {"x-api-key": "local-dev-key"}
TIMEOUT = 60


RESEND_SECONDS = 61  # the rules' code_resend_seconds, and one


def make_member(stack: RunningStack, n: int, codes: dict[str, str], lock: threading.Lock, tally: Counter[str]) -> None:
    session = requests.Session()
    phone = f"+86138{n:08d}"
    sent = time.monotonic()
    assert session.post(stack.url("/v1/signup"), json={"phone": phone, "name": "张伟"}, timeout=TIMEOUT).status_code == 202
    verified = session.post(stack.url("/v1/auth/verify"), json={"phone": phone, "code": _code_for(stack, phone, codes, lock)}, timeout=TIMEOUT)
    if verified.status_code == 401:
        # On a loaded machine botocore can time out on a transaction moto then applies; its retry finds
        # the code spent. A member would ask for a new code, once the resend interval has passed.
        tally["verifications_repeated"] += 1
        time.sleep(max(0.0, sent + RESEND_SECONDS - time.monotonic()))
        assert session.post(stack.url("/v1/auth/code"), json={"phone": phone}, timeout=TIMEOUT).status_code == 202
        verified = session.post(stack.url("/v1/auth/verify"), json={"phone": phone, "code": _code_for(stack, phone, codes, lock)}, timeout=TIMEOUT)
    assert verified.status_code == 200, verified.text
    token = verified.json()["access_token"]
    for k in range(2):
        order = {"order_id": f"LS-{n}-{k}", "phone": phone, "amount": 35000, "currency": "CNY"}
        assert session.post(stack.url("/v1/purchases"), json=order, headers=MERCHANT, timeout=TIMEOUT).status_code == 201
    if n % 4 == 0:
        headers = {"authorization": f"Bearer {token}", "Idempotency-Key": f"LS-{n}"}
        assert session.post(stack.url("/v1/me/redemptions"), json={"reward_id": "coffee"}, headers=headers, timeout=TIMEOUT).status_code == 201
    tally["members"] += 1
    if tally["members"] % 250 == 0:
        print(f"  {tally['members']} members", flush=True)


def _code_for(stack: RunningStack, phone: str, codes: dict[str, str], lock: threading.Lock) -> str:
    """The phone's code from the outbox, reading only what is new since the last look."""
    import json

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if phone in codes:
                return codes.pop(phone)
            offset = int(codes.get("", "0"))
            with open(stack.outbox, "rb") as outbox:
                outbox.seek(offset)
                chunk = outbox.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            codes[""] = str(offset + len(complete))
            for line in complete.splitlines():
                message = json.loads(line)
                match = CODE.search(message["body"])
                if message["kind"] == "verification_code" and match:
                    codes[message["to"]] = match.group(1)
            if phone in codes:
                return codes.pop(phone)
        time.sleep(0.05)
    raise AssertionError(f"no code for {phone}")


def data_lines(stack: RunningStack) -> list[str]:
    return [line for line in stack.log.read_text(errors="replace").splitlines() if line.startswith("Data:")]


def books_balance(stack: RunningStack) -> int:
    report = reconcile_table(stack.dynamodb(), stack.table_name)
    assert report.drifting == {} and report.unsettled == [], report.drifting
    return report.members_checked


def sizes(state: Path) -> str:
    return ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(state.glob("*.jsonl")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)", flush=True)
    with tempfile.TemporaryDirectory(prefix="huiyuan-state-") as tmp:
        state_dir = Path(tmp)
        started = time.monotonic()
        with running_stack(state_dir) as stack:
            print(f"empty start: {time.monotonic() - started:.1f} s to answering", flush=True)
            made = time.monotonic()
            codes: dict[str, str] = {}
            lock = threading.Lock()
            tally: Counter[str] = Counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                list(pool.map(lambda n: make_member(stack, n, codes, lock, tally), range(args.members)))
            print(f"{args.members} members made through the API in {time.monotonic() - made:.0f} s ({dict(tally)})", flush=True)
            os.kill(stack.pid, signal.SIGKILL)
        print(f"killed: {sizes(state_dir / 'aws')}", flush=True)

        started = time.monotonic()
        with running_stack(state_dir, start_timeout=600, stop_timeout=600) as stack:
            print(f"start after the kill: {time.monotonic() - started:.1f} s to answering; {data_lines(stack)[0]}", flush=True)
            print(f"  books balance for {books_balance(stack)} members", flush=True)
            stopping = time.monotonic()
        print(f"clean stop: {time.monotonic() - stopping:.1f} s; {data_lines(stack)[-1]}; {sizes(state_dir / 'aws')}", flush=True)

        started = time.monotonic()
        with running_stack(state_dir, start_timeout=600) as stack:
            print(f"start from the snapshot: {time.monotonic() - started:.1f} s to answering; {data_lines(stack)[0]}", flush=True)
            print(f"  books balance for {books_balance(stack)} members", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
