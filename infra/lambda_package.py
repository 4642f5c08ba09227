"""Slim the Lambda zip after `chalice package`: botocore keeps only the service models the app uses.

botocore ships a model for every AWS service (~400 directories under
`botocore/data/`, ~21 MB of the 37 MB unzipped). A client is made from its
service's model when it is created, so the package keeps the models of the
services the code makes clients for and drops the rest. The consequence: a
client for a service not listed here fails at creation (`UnknownServiceError`)
in Lambda while it works locally. `tests/unit/test_lambda_package.py` fails if
the code (or PynamoDB, or powertools' parameters) creates a client for a service
missing from `BOTOCORE_SERVICES`, and proves the pruned botocore creates a
client for each one.

The same function prunes the zip the CDK stack deploys (infra/chalice_app.py)
and the zip the bench measures (tests/bench/package.py). It uses nothing but the
standard library, so the bench can import it without the CDK.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

# The services the app makes clients for (chalicelib, PynamoDB, powertools' parameters):
# dynamodb - PynamoDB's models, the job index; ssm - the rules and the signing key
# (SecretsManager through SSM's /aws/reference/secretsmanager/ path, so no secretsmanager
# client); sns - text messages; ses - email; sqs - the jobs and webhook queues; events - business events (EventBridge);
# athena, glue - the analytics engine in the cloud.
BOTOCORE_SERVICES = frozenset({"athena", "dynamodb", "events", "glue", "s3", "ses", "sns", "sqs", "ssm"})

_DATA = ("botocore", "data")

# The SMS providers' SDKs (docs/sms-providers.md) and what only they bring, by the top-level names
# of their folders in the zip: a stage keeps only its own provider's. Alibaba's brings aiohttp,
# APScheduler and more (~3.7 MB zipped before the trim below); Tencent's ~0.1 MB (requests stays: it
# is shared). `cryptography` is not one of them: WeChat Pay (domain/wechat_pay.py) needs it in
# every stage.
SMS_PROVIDER_PACKAGES: dict[str, tuple[str, ...]] = {
    "aliyun": (
        "alibabacloud_",
        "darabonba",
        "Tea",
        "aiohttp",
        "aiofiles",
        "aiohappyeyeballs",
        "aiosignal",
        "apscheduler",
        "APScheduler",
        "frozenlist",
        "multidict",
        "propcache",
        "yarl",
        "websocket",
    ),
    "tencent": ("tencentcloud",),
}


# Alibaba's SDK imports aiohttp when it is imported (Tea/core.py, darabonba/core.py: for its
# `*_async` methods), but the service calls only its synchronous `send_sms`, which goes through
# `requests`. These packages' compiled extensions are accelerators each package falls back from to
# its own pure-Python code when they are missing (`except ImportError`), so the zip leaves them
# out (~2.6 MB zipped, the difference between an `aliyun` stage's zip over 15 MB and under it):
# aiohttp is still importable and works, only slower, and nothing here runs it.
# tests/infra/test_lambda_zip.py sends an SMS through the SDK from the pruned zip alone.
PURE_PYTHON_FALLBACK_PACKAGES = frozenset({"aiohttp", "frozenlist", "multidict", "propcache", "yarl"})


def keeps(name: str, sms_provider: str = "sns") -> bool:
    """Whether the zip member `name` (a path inside the zip, `/`-separated) stays in the package
    of a stage whose SMS go through `sms_provider`."""
    parts = name.split("/")
    if parts[0] in PURE_PYTHON_FALLBACK_PACKAGES and name.endswith(".so"):
        return False
    for provider, packages in SMS_PROVIDER_PACKAGES.items():
        if provider != sms_provider and parts[0].startswith(packages):
            return False
    # botocore/data/<service>/... ; botocore/data/<file> (endpoints.json, partitions.json, _retry.json, ...) stays.
    if len(parts) >= 4 and tuple(parts[:2]) == _DATA:
        return parts[2] in BOTOCORE_SERVICES
    return True


@dataclass(frozen=True)
class Pruned:
    files: int  # zip members dropped
    unzipped_bytes: int  # their uncompressed size
    zip_bytes_before: int
    zip_bytes_after: int


def prune_zip(path: Path, sms_provider: str = "sns") -> Pruned:
    """Rewrite the zip at `path` without the members `keeps` refuses; each kept member keeps its ZipInfo."""
    before = path.stat().st_size
    dropped = dropped_bytes = 0
    handle, tmp_name = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                if keeps(info.filename, sms_provider):
                    target.writestr(info, source.read(info))
                else:
                    dropped += 1
                    dropped_bytes += info.file_size
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return Pruned(dropped, dropped_bytes, before, path.stat().st_size)
