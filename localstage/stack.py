"""`make run`: the embedded AWS endpoint, bootstrapped, and the API on loopback.

    python -m localstage.stack [--port 8000] [--aws-port 4566] [--state-dir .local]
    python -m localstage.stack --reset     (`make reset`: forget the saved state)

Writes `.local/stack.json` (the endpoints) so `make job` and tools can find
the running stack; every outgoing message lands in `.local/outbox.jsonl`.
The data is kept in `.local/aws/` (persistence.py): stopping (Ctrl-C, SIGTERM,
SIGHUP) saves it, starting again restores it.
`HUIYUAN_SMS_PROVIDER=aliyun` (or `tencent`) sends SMS through that provider's SDK to its fake
on loopback (sms_fakes.py, docs/sms-providers.md).
`WECHAT_MP_VERIFY_TOKEN=XXXX` serves WeChat's domain verification file /MP_verify_XXXX.txt at the
root (webapp.py, docs/wechat.md).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from localstage.persistence import SNAPSHOT, Compacted, Restored, StateError
from localstage.persistence import reset as reset_state
from localstage.sms_fakes import LOCAL_TEMPLATES, SIGN_NAME, FakeSmsProvider, generate_credentials, local_template_mapping
from localstage.webapp import MP_VERIFY_ENVIRONMENT, configured_mp_verify_token

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def process_alive(pid: int) -> bool:
    """Whether the process whose pid `stack.json` records still runs: a stack that was killed
    never removed its file, so the file alone does not say it runs."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("AWS_PORT", "0")))
    parser.add_argument("--project-dir", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--state-dir", help="where the data, stack.json and outbox.jsonl go (default: <project>/.local)")
    parser.add_argument("--reset", action="store_true", help="forget the saved data and the outbox, then exit (refused while the stack runs)")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the local stack serves on loopback only")

    try:
        configured_mp_verify_token()
    except ValueError as exc:
        parser.error(f"{MP_VERIFY_ENVIRONMENT}: {exc}")
    project = Path(args.project_dir)
    state_dir = Path(args.state_dir) if args.state_dir else project / ".local"
    if args.reset:
        return reset(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    for var, value in LOCAL_CREDENTIALS.items():
        os.environ[var] = value  # never a real account: the endpoint below is moto
    os.environ.pop("AWS_PROFILE", None)

    from localstage.aws import EmbeddedAws

    # Closing the terminal (SIGHUP) and `kill` (SIGTERM) stop it as Ctrl-C does: the data is saved.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        aws = EmbeddedAws(args.host, args.aws_port, state_dir / AWS_STATE).start()
    except StateError as exc:
        print(f"Cannot start the local stack: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(_restored_message(aws.restored, state_dir / AWS_STATE), flush=True)
    os.environ["AWS_ENDPOINT_URL"] = aws.endpoint
    os.environ["OUTBOX_PATH"] = str(state_dir / "outbox.jsonl")
    sms_fake = _start_sms_fake(args.host, state_dir / "outbox.jsonl", f"http://{args.host}:{args.port}")
    os.chdir(project)

    from localstage.server import load_local_config, make_server

    load_local_config(str(project))  # applies the local stage's environment
    import boto3

    from localstage.wechat_pay_fake import local_fake_port, start_local_fake

    # WeChat Pay is the fake on loopback, and notifies this stack (read by the settings below).
    fake_port = local_fake_port(args.host)
    os.environ["WECHAT_PAY_BASE_URL"] = f"http://{args.host}:{fake_port}"
    os.environ["WECHAT_PAY_NOTIFY_URL"] = f"http://{args.host}:{args.port}/v1/wechat-pay/notifications"
    from chalicelib.settings import get_settings
    from localstage.bootstrap import bootstrap, put_sms_credentials

    try:
        bootstrap(get_settings(), boto3.Session())
        if sms_fake is not None:
            put_sms_credentials(get_settings(), boto3.Session(), sms_fake.fake.credentials)
            print(f"SMS by the {sms_fake.fake.provider} fake at http://{sms_fake.endpoint} (docs/sms-providers.md)", flush=True)
        from localstage.bootstrap import wechat_app_secrets
        from localstage.wechat_fake import FakeWechat

        # WeChat's APIs, faked on loopback (the API reads WECHAT_API_BASE when it first calls WeChat).
        wechat = FakeWechat(wechat_app_secrets(get_settings(), boto3.Session()), os.environ["OUTBOX_PATH"], host=args.host).start()
        os.environ["WECHAT_API_BASE"] = wechat.base_url
        # The official account's OAuth page the web app sends members to: the fake's, on loopback.
        os.environ["WECHAT_OAUTH_AUTHORIZE_URL"] = f"{wechat.base_url}/connect/oauth2/authorize"
        get_settings.cache_clear()
        wechat_pay = start_local_fake(get_settings(), boto3.Session(), args.host, fake_port)
        server = make_server(str(project), args.host, args.port)
        from localstage.events import EventPump

        # The table's stream and the webhook queue, as Lambda's event sources would feed them.
        events = EventPump(boto3.Session()).start()
        endpoints = {
            "api": f"http://{args.host}:{args.port}",
            "aws_endpoint": aws.endpoint,
            "wechat": wechat.base_url,
            "pid": os.getpid(),
            "wechat_pay": wechat_pay.url,
        }
        (state_dir / "stack.json").write_text(json.dumps(endpoints))
        print(f"Huiyuan local stack: API http://{args.host}:{args.port}  (AWS endpoint {aws.endpoint})", flush=True)
        print(f"Outgoing messages: {state_dir / 'outbox.jsonl'}  Merchant key: local-dev-key", flush=True)
        print(f"Fake WeChat Pay: {wechat_pay.url} (docs/wechat-pay.md)", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if "events" in locals():
            events.close()
        if "wechat" in locals():
            wechat.close()
        (state_dir / "stack.json").unlink(missing_ok=True)
        print("Saving the data...", flush=True)
        # A second Ctrl-C cannot corrupt it (the snapshot is swapped in by rename), only make the next start slower.
        aws.stop()
        print(_saved_message(aws.compacted, state_dir / AWS_STATE), flush=True)
    return 0


AWS_STATE = "aws"


def _start_sms_fake(host: str, outbox: Path, stack_url: str) -> FakeSmsProvider | None:
    """`HUIYUAN_SMS_PROVIDER=aliyun|tencent make run`: SMS go through that provider's SDK to its
    fake on loopback, with keys generated now and the local brand's templates; unset: SNS. The
    fake posts each message's delivery receipt to this stack a second after the send
    (`HUIYUAN_SMS_RECEIPT_FAILURE=<code>`: every receipt reports that failure;
    `HUIYUAN_SMS_RECEIPT_DELAY_SECONDS`: another delay, or `off`)."""
    provider = os.environ.get("HUIYUAN_SMS_PROVIDER", "sns")
    if provider == "sns":
        return None
    if provider not in LOCAL_TEMPLATES:
        raise SystemExit(f"HUIYUAN_SMS_PROVIDER must be sns, aliyun or tencent, not {provider!r}")
    fake = FakeSmsProvider(provider, generate_credentials(provider), str(outbox), host=host).start()
    receipt_url = f"{stack_url}/v1/sms/receipts/{provider}/{fake.fake.credentials['receipt_token']}"
    fake.fake.report_to = lambda reports: _post_json(receipt_url, reports)
    delay = os.environ.get("HUIYUAN_SMS_RECEIPT_DELAY_SECONDS", "1")  # "off": receipts are never posted
    fake.fake.receipt_delay_seconds = None if delay == "off" else float(delay)
    fake.fake.receipt_failure = os.environ.get("HUIYUAN_SMS_RECEIPT_FAILURE") or None
    os.environ.update(
        {
            "SMS_PROVIDER": provider,
            "SMS_ENDPOINT": fake.endpoint,
            "SMS_SIGN_NAME": SIGN_NAME,
            "SMS_TEMPLATES": local_template_mapping(provider),
            "SMS_APP_ID": "1400000001",
        }
    )
    return fake


def _post_json(url: str, body: object) -> int:
    """The fake provider's receipt POST; its HTTP status (a refused one is not retried here)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310  (loopback, this stack)
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)
    except OSError:
        return 0


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def reset(state_dir: Path) -> int:
    """`make reset`: the next start is a first start (an empty table, the starter catalogue)."""
    try:
        reset_state(state_dir / AWS_STATE)
    except StateError as exc:
        print(f"Not reset: {exc}", file=sys.stderr)
        return 1
    (state_dir / "outbox.jsonl").unlink(missing_ok=True)
    print(f"Reset: the local stack will start empty ({state_dir} emptied of its data and outbox).")
    return 0


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def _restored_message(restored: Restored | None, where: Path) -> str:
    if restored is None or restored.requests == 0:
        return f"Data: none saved yet; it will be kept in {where}/ (`make reset` empties it)"
    text = (
        f"Data: restored from {where}/ (snapshot {_size(restored.snapshot_bytes)}, journal {_size(restored.journal_bytes)}): "
        f"{restored.requests:,} requests in {restored.seconds:.1f} s"
    )
    if restored.dropped_torn_line:
        text += "; the last, half-written request of the previous run was dropped (it had not been answered)"
    if restored.failed:
        text += f"\nWARNING: {restored.failed} saved requests failed on replay; first: {restored.first_failure[:500]}"
    return text


def _saved_message(compacted: Compacted | None, where: Path) -> str:
    if compacted is None:
        return f"Data: unchanged since it was last saved in {where}/"
    return (
        f"Data: saved to {where}/{SNAPSHOT}: {compacted.items:,} items ({compacted.expired_items_dropped:,} past their TTL left out), "
        f"{_size(compacted.snapshot_bytes)}, in {compacted.seconds:.1f} s"
    )


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip the interpreter's slow teardown of moto's state (seconds after a load test)
