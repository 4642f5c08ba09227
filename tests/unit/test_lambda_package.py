"""The Lambda zip's pruned botocore still has a model for every service the app makes a client for."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import botocore

from infra.lambda_package import BOTOCORE_SERVICES, keeps, prune_zip

ROOT = Path(__file__).resolve().parents[2]


def _sources() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]


def _clients_created_in_code() -> dict[str, list[str]]:
    """Service name -> where: every `<x>.client("name")` and `_client("name")` call with a literal name."""
    found: dict[str, list[str]] = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            first = node.args[0]
            if name.endswith("client") and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _imports(module: str) -> bool:
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and (node.module == module or node.module.startswith(module + ".")):
                return True
            if isinstance(node, ast.Import) and any(a.name == module or a.name.startswith(module + ".") for a in node.names):
                return True
    return False


def test_every_client_the_code_creates_has_its_model_kept() -> None:
    used = set(_clients_created_in_code())
    assert used, "the scan found no client at all: it no longer matches how the code creates clients"
    # Clients created by libraries, not by a literal in our code.
    if _imports("pynamodb"):
        used.add("dynamodb")
    if _imports("aws_lambda_powertools.utilities.parameters") or any(
        "from aws_lambda_powertools.utilities import parameters" in p.read_text(encoding="utf-8") for p in _sources()
    ):
        used.add("ssm")  # powertools' get_parameter is SSM's
    missing = used - BOTOCORE_SERVICES
    assert not missing, f"clients created for services whose botocore models the Lambda zip drops: {missing} ({_clients_created_in_code()})"


def test_no_service_is_kept_that_the_code_does_not_use() -> None:
    used = set(_clients_created_in_code()) | {"dynamodb", "ssm"}
    assert not BOTOCORE_SERVICES - used, f"kept but unused (prune them): {BOTOCORE_SERVICES - used}"


def test_keeps() -> None:
    assert keeps("botocore/data/dynamodb/2012-08-10/service-2.json.gz")
    assert keeps("botocore/data/endpoints.json")
    assert keeps("botocore/data/_retry.json")
    assert keeps("botocore/client.py")
    assert keeps("boto3/data/ec2/2016-11-15/resources-1.json")
    assert keeps("chalicelib/data/ec2/x.py")
    assert not keeps("botocore/data/ec2/2016-11-15/service-2.json.gz")
    assert not keeps("botocore/data/ec2/")
    assert not keeps("botocore/data/sesv2/2019-09-27/service-2.json.gz")


def test_prune_zip_drops_unused_models_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "deployment.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        models = ("botocore/data/sqs/2012-11-05/service-2.json.gz", "botocore/data/ec2/2016-11-15/service-2.json.gz")
        names = ("app.py", "botocore/data/endpoints.json", *models)
        for name in names:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 2, 3, 4, 6))
            info.external_attr = 0o100755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, name * 100)
    pruned = prune_zip(path)
    with zipfile.ZipFile(path) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        assert set(infos) == {"app.py", "botocore/data/endpoints.json", "botocore/data/sqs/2012-11-05/service-2.json.gz"}
        assert archive.read("app.py") == b"app.py" * 100
    assert infos["app.py"].external_attr == 0o100755 << 16
    assert infos["app.py"].date_time == (2020, 1, 2, 3, 4, 6)
    assert pruned.files == 1 and pruned.zip_bytes_after < pruned.zip_bytes_before
    assert [p.name for p in tmp_path.iterdir()] == ["deployment.zip"]


def test_pruned_botocore_creates_every_kept_client(tmp_path: Path) -> None:
    """boto3 over a botocore copied as the zip prunes it: each kept service's client is made, another is not."""
    source = Path(botocore.__file__).parent

    def ignore(directory: str, names: list[str]) -> set[str]:
        relative = Path(directory).relative_to(source.parent).as_posix()
        # A directory is judged by a file inside it, as the zip lists only files.
        return {n for n in names if not keeps(f"{relative}/{n}" + ("/x" if (Path(directory) / n).is_dir() else ""))}

    shutil.copytree(source, tmp_path / "botocore", ignore=ignore)
    script = textwrap.dedent(
        f"""
        import boto3, botocore
        from botocore.exceptions import UnknownServiceError
        assert botocore.__file__.startswith({str(tmp_path)!r}), botocore.__file__
        for service in {sorted(BOTOCORE_SERVICES)!r}:
            boto3.client(service, region_name="ap-southeast-1")
        try:
            boto3.client("ec2", region_name="ap-southeast-1")
        except UnknownServiceError:
            pass
        else:
            raise SystemExit("ec2's model was not pruned")
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    env.pop("AWS_PROFILE", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr + done.stdout


def test_duckdb_is_imported_only_inside_the_duckdb_adapter() -> None:
    """duckdb is a development dependency (requirements-dev.txt): no Lambda path may import it."""
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        owners = {id(n): c.name for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for n in ast.walk(c)}
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "duckdb" for n in names):
                found.append((path.relative_to(ROOT).as_posix(), owners.get(id(node))))
    assert found and all(where == ("chalicelib/store/analytics_engine.py", "DuckDBEngine") for where in found), found
    assert "duckdb" not in (ROOT / "requirements.txt").read_text(encoding="utf-8")


def test_every_lambda_module_imports_with_duckdb_absent() -> None:
    modules = ["app", *sorted(".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / "chalicelib").rglob("*.py"))]
    modules = [m.removesuffix(".__init__") for m in modules]
    script = "import sys\nsys.modules['duckdb'] = None\nimport importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    script += "assert 'duckdb' not in {k for k, v in sys.modules.items() if v is not None}\n"
    env = {**os.environ, "ANALYTICS_ENGINE": "athena", "AWS_DEFAULT_REGION": "ap-southeast-1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_stage_keeps_only_its_own_sms_providers_sdk() -> None:
    alibaba, aiohttp, tencent = "alibabacloud_dysmsapi20170525/client.py", "aiohttp/client.py", "tencentcloud/sms/v20210111/sms_client.py"
    assert not any(keeps(member) for member in (alibaba, aiohttp, tencent))  # SNS: neither
    assert keeps(alibaba, "aliyun") and keeps(aiohttp, "aliyun") and not keeps(tencent, "aliyun")
    assert keeps(tencent, "tencent") and not keeps(alibaba, "tencent")
    assert keeps("requests/api.py") and keeps("chalicelib/notify/sms.py") and keeps("pydantic/main.py")


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level name of every third-party package the Lambda code imports -> the files that import it."""
    found: dict[str, set[str]] = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("app", "chalicelib", "__future__"):
                    found.setdefault(top, set()).add(path.relative_to(ROOT).as_posix())
    return found


def test_every_package_the_code_imports_stays_in_every_stage_but_the_other_providers_sdks() -> None:
    """cryptography is WeChat Pay's too: pruning it with Alibaba's SDK broke top-ups on sns and tencent stages."""
    imported = _third_party_imports()
    assert {"cryptography", "pydantic", "pynamodb", "alibabacloud_dysmsapi20170525", "tencentcloud"} <= set(imported)
    sdks = {"aliyun": ("alibabacloud_",), "tencent": ("tencentcloud",)}
    for stage_provider in ("sns", "aliyun", "tencent"):
        for top, where in imported.items():
            owner = next((p for p, prefixes in sdks.items() if top.startswith(prefixes)), None)
            if owner is not None and owner != stage_provider:
                assert where == {"chalicelib/notify/sms.py"}, (top, where)  # imported only by the other provider's adapter
                assert not keeps(f"{top}/__init__.py", stage_provider)
            else:
                pruned = f"{top} (imported by {sorted(where)}) is pruned from a {stage_provider} stage's zip"
                assert keeps(f"{top}/__init__.py", stage_provider), pruned


def test_an_aliyun_stage_keeps_the_aiohttp_stack_but_not_its_compiled_accelerators() -> None:
    for name in ("aiohttp/_http_parser.cpython-313-x86_64-linux-gnu.so", "multidict/_multidict.cpython-313-x86_64-linux-gnu.so"):
        assert not keeps(name, "aliyun")
    # Their pure-Python code, which they fall back to, stays.
    for name in ("aiohttp/http_parser.py", "multidict/_multidict_py.py", "yarl/_quoting_py.py", "propcache/_helpers_py.py", "frozenlist/__init__.py"):
        assert keeps(name, "aliyun")
    # Every other compiled extension stays.
    for name in ("pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so", "cryptography/hazmat/bindings/_rust.abi3.so"):
        assert keeps(name, "aliyun") and keeps(name)
