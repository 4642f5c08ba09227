"""`make run`: the embedded AWS endpoint, bootstrapped, and the API on loopback.

    python -m chalicelib.local.stack [--port 8000] [--aws-port 4566]

Writes `.local/stack.json` (the endpoints) so `make job` and tools can find
the running stack; every outgoing message lands in `.local/outbox.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("AWS_PORT", "0")))
    parser.add_argument("--project-dir", default=str(Path(__file__).resolve().parents[2]))
    parser.add_argument("--state-dir", help="where stack.json and outbox.jsonl go (default: <project>/.local)")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the local stack serves on loopback only")

    project = Path(args.project_dir)
    state_dir = Path(args.state_dir) if args.state_dir else project / ".local"
    state_dir.mkdir(parents=True, exist_ok=True)
    for var, value in LOCAL_CREDENTIALS.items():
        os.environ[var] = value  # never a real account: the endpoint below is moto
    os.environ.pop("AWS_PROFILE", None)

    from .aws import EmbeddedAws

    aws = EmbeddedAws(args.host, args.aws_port).start()
    os.environ["AWS_ENDPOINT_URL"] = aws.endpoint
    os.environ["OUTBOX_PATH"] = str(state_dir / "outbox.jsonl")
    os.chdir(project)

    from .server import load_local_config, make_server

    load_local_config(str(project))  # applies the local stage's environment
    import boto3

    from ..settings import get_settings
    from .bootstrap import bootstrap

    bootstrap(get_settings(), boto3.Session())
    server = make_server(str(project), args.host, args.port)
    (state_dir / "stack.json").write_text(json.dumps({"api": f"http://{args.host}:{args.port}", "aws_endpoint": aws.endpoint, "pid": os.getpid()}))

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"Huiyuan local stack: API http://{args.host}:{args.port}  (AWS endpoint {aws.endpoint})", flush=True)
    print(f"Outgoing messages: {state_dir / 'outbox.jsonl'}  Merchant key: local-dev-key", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        aws.stop()
        (state_dir / "stack.json").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip the interpreter's slow teardown of moto's state (seconds after a load test)
