"""The zip each stage deploys, built for real: `chalice package --stage dev` once per session
(~60 s: chalice fetches the Lambda runtime's Linux wheels), then pruned as the stack prunes it for
each SMS provider (infra/lambda_package.py `prune_zip`). Issue 12 item 5: every stage's zip
<= 15 MB without dropping a feature; docs/packaging.md has the figures.

What the pruning left out must not be missed: each stage's code is imported, and an SMS sent through
the stage's provider SDK to its local fake, from an unzipped copy of the zip with nothing else on
sys.path but the standard library (`python -I -S`), as Lambda imports it from /var/task.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from infra.lambda_package import PURE_PYTHON_FALLBACK_PACKAGES, prune_zip
from localstage.sms_fakes import SIGN_NAME, FakeSmsProvider, generate_credentials, local_template_mapping
from tests.bench.package import build_package, environment_for_chalice

ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000  # as docs/performance.md counts
ZIP_BUDGET_BYTES = 15 * MB
PROVIDERS = ("sns", "aliyun", "tencent")


@dataclass(frozen=True)
class StageZip:
    sms_provider: str
    zip_path: Path
    unzipped: Path  # the zip extracted, as /var/task

    @property
    def zip_bytes(self) -> int:
        return self.zip_path.stat().st_size

    def describe(self) -> str:
        with zipfile.ZipFile(self.zip_path) as archive:
            infos = archive.infolist()
        zipped: Counter[str] = Counter()
        for info in infos:
            zipped[info.filename.split("/")[0]] += info.compress_size
        largest = ", ".join(f"{name} {size / MB:.2f}" for name, size in zipped.most_common(6))
        unzipped = sum(i.file_size for i in infos)
        sizes = f"{self.zip_bytes / MB:.2f} MB zip, {unzipped / MB:.1f} MB unzipped, {len(infos)} files"
        return f"{self.sms_provider}: {sizes}; largest (MB zipped): {largest}"


@pytest.fixture(scope="session")
def stage_zips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StageZip]:
    """One `chalice package` for the session; a pruned copy of its zip per SMS provider."""
    work = tmp_path_factory.mktemp("lambda-zip")
    built = work / "out"
    error = build_package(ROOT, built, environment_for_chalice(dict(os.environ)), timeout=600)
    assert error is None, error
    zips = {}
    for provider in PROVIDERS:
        path = work / f"{provider}.zip"
        shutil.copyfile(built / "deployment.zip", path)
        prune_zip(path, provider)
        unzipped = work / provider
        with zipfile.ZipFile(path) as archive:
            archive.extractall(unzipped)
        zips[provider] = StageZip(provider, path, unzipped)
    return zips


def _run_from_zip(stage_zip: StageZip, script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`script` in a fresh interpreter that sees the standard library and the unzipped zip, nothing else
    (no site-packages: -S; no PYTHONPATH, no user site: -I); it fails if a module came from elsewhere."""
    stdlib = {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}
    prelude = textwrap.dedent(
        f"""
        import sys
        sys.path[:] = [{str(stage_zip.unzipped)!r}] + [p for p in sys.path if p.startswith({tuple(sorted(stdlib))!r})]
        """
    )
    check = textwrap.dedent(
        f"""
        outside = sorted(
            name for name, module in list(sys.modules.items())
            if getattr(module, "__file__", None)
            and not module.__file__.startswith(({str(stage_zip.unzipped)!r}, *{tuple(sorted(stdlib))!r}))
        )
        assert not outside, f"imported from outside the zip: {{outside}}"
        """
    )
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", prelude + textwrap.dedent(script) + check],
        cwd=stage_zip.unzipped,
        env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize("sms_provider", PROVIDERS)
def test_each_stage_s_zip_is_within_the_15_mb_budget(stage_zips: dict[str, StageZip], sms_provider: str) -> None:
    stage_zip = stage_zips[sms_provider]
    print("\n" + stage_zip.describe())
    assert stage_zip.zip_bytes <= ZIP_BUDGET_BYTES, stage_zip.describe()


@pytest.mark.parametrize("sms_provider", PROVIDERS)
def test_every_lambda_module_imports_from_its_stage_s_zip_alone(stage_zips: dict[str, StageZip], sms_provider: str) -> None:
    """What the pruning dropped is not needed by any route, job or worker (WeChat Pay's cryptography included)."""
    modules = ["app", *sorted(".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / "chalicelib").rglob("*.py"))]
    modules = [m.removesuffix(".__init__") for m in modules]
    script = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    env = {**os.environ, "ANALYTICS_ENGINE": "athena", "AWS_DEFAULT_REGION": "ap-southeast-1"}
    done = _run_from_zip(stage_zips[sms_provider], script, env)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture
def moto_ssm() -> Iterator[str]:
    """moto's server (the zip's code runs in another process): its endpoint."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.mark.parametrize("sms_provider", ["aliyun", "tencent"])
def test_an_sms_goes_through_the_provider_s_sdk_from_the_stage_s_zip_alone(stage_zips: dict[str, StageZip], sms_provider: str, moto_ssm: str) -> None:
    """The aliyun zip lacks the aiohttp stack's compiled accelerators: its SDK imports aiohttp (pure
    Python then) and sends by `requests`; the fake verifies the request's signature before accepting it."""
    credentials = generate_credentials(sms_provider)
    parameter = "/huiyuan/zip-test/sms-credentials"
    ssm = boto3.client("ssm", endpoint_url=moto_ssm, region_name="us-east-1")
    ssm.put_parameter(Name=parameter, Value=json.dumps(credentials), Type="SecureString", Overwrite=True)
    fake = FakeSmsProvider(sms_provider, credentials, None).start()
    try:
        env = {
            **os.environ,
            "HUIYUAN_STAGE": "local",  # the SDKs speak http (the fake's) instead of https: nothing else changes
            "AWS_ENDPOINT_URL": moto_ssm,
            "SMS_PROVIDER": sms_provider,
            "SMS_ENDPOINT": fake.endpoint,
            "SMS_SIGN_NAME": SIGN_NAME,
            "SMS_TEMPLATES": local_template_mapping(sms_provider),
            "SMS_APP_ID": "1400000001",
            "SMS_CREDENTIALS_PARAMETER": parameter,
        }
        script = f"""
        from chalicelib.notify.sms import send_template_sms
        print("message id:", send_template_sms("+8613900001234", "verification_code", {{"code": "389529", "minutes": "5"}}))
        compiled = sorted(
            name for name, module in sys.modules.items()
            if name.split(".")[0] in {sorted(PURE_PYTHON_FALLBACK_PACKAGES)!r} and getattr(module, "__file__", "").endswith(".so")
        )
        assert not compiled, compiled
        if {sms_provider!r} == "aliyun":
            assert "aiohttp" in sys.modules and "multidict._multidict_py" in sys.modules  # imported, in pure Python
        """
        done = _run_from_zip(stage_zips[sms_provider], script, env)
    finally:
        fake.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    [received] = fake.fake.received
    assert received["params"] == {"code": "389529", "minutes": "5"}
    assert received["sign_name"] == SIGN_NAME
    assert "您的验证码为389529" in received["body"]
    message_id = done.stdout.split("message id:")[1].strip()
    assert message_id and [queued for queued, _phone in fake.fake.pending_receipts] == [message_id]  # the id the provider gave
