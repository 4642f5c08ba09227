"""WeChat's check of the official account's web-page authorisation domain (docs/wechat.md): with the
stage's `wechat_mp_verify_token`, the web app's distribution answers exactly /MP_verify_<token>.txt
at its root with the token as text/plain (a CloudFront Function on one behaviour, run here in
Node.js); without it nothing is served there, as before; a token that is not letters and digits is
refused at synth."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.stages import STAGES
from tests.infra.conftest import resources, synthesize_variant
from tests.infra.test_web import behaviour, cloudfront_function, distribution

TOKEN = "Xo3kP9aZ2mQ7wE1r"
NODE = shutil.which("node")


@pytest.fixture(scope="session")
def verified(tmp_path_factory: pytest.TempPathFactory):
    """prod with a verification token (~10 s, synthesized with cdk-nag's checks)."""
    return synthesize_variant(tmp_path_factory, wechat_mp_verify_token=TOKEN)


def test_given_a_token_then_exactly_its_file_at_the_root_has_a_behaviour_answered_by_a_function(verified):
    template = verified["template"]
    config = distribution(template)
    found = behaviour(config, f"MP_verify_{TOKEN}.txt")
    (association,) = found["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function_id = association["FunctionARN"]["Fn::GetAtt"][0]
    assert template["Resources"][function_id] == cloudfront_function(template, "-web-mp-verify")
    assert set(found["AllowedMethods"]) == {"GET", "HEAD"} and found["ViewerProtocolPolicy"] == "redirect-to-https"
    # Nothing else at the root changed: the pages, the assets and the API keep their behaviours and functions.
    assert sorted(b["PathPattern"] for b in config["CacheBehaviors"]) == sorted(["app/assets/*", "v1/*", f"MP_verify_{TOKEN}.txt"])
    pages = template["Resources"][config["DefaultCacheBehavior"]["FunctionAssociations"][0]["FunctionARN"]["Fn::GetAtt"][0]]
    assert pages["Properties"]["Name"].endswith("-web-pages")
    assert TOKEN not in pages["Properties"]["FunctionCode"]


def test_given_no_token_then_no_verification_behaviour_or_function(template):
    config = distribution(template)
    assert sorted(b["PathPattern"] for b in config["CacheBehaviors"]) == ["app/assets/*", "v1/*"]
    assert not [f for f in resources(template, "AWS::CloudFront::Function").values() if "mp-verify" in f["Properties"]["Name"]]
    assert "MP_verify" not in json.dumps(template)


@pytest.mark.skipif(NODE is None, reason="Node.js runs CloudFront Functions' JavaScript here")
def test_the_function_answers_the_token_as_plain_text(verified, tmp_path: Path):
    code = cloudfront_function(verified["template"], "-web-mp-verify")["Properties"]["FunctionCode"]
    event = {"viewer": {"ip": "198.51.100.1"}, "request": {"uri": f"/MP_verify_{TOKEN}.txt", "method": "GET", "headers": {}}}
    script = tmp_path / "run.js"
    script.write_text(code + f"\nconsole.log(JSON.stringify(handler({json.dumps(event)})));\n", encoding="utf-8")
    assert NODE is not None
    answer = json.loads(subprocess.run([NODE, str(script)], capture_output=True, text=True, check=True, timeout=30).stdout)
    assert answer["statusCode"] == 200
    assert answer["headers"]["content-type"] == {"value": "text/plain"}
    assert answer["body"] == {"encoding": "text", "data": TOKEN}


def test_the_template_with_a_token_passes_cfn_lint(verified):
    from cfnlint.api import lint

    matches = lint(json.dumps(verified["template"]), regions=[STAGES["prod"].region])
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")] == []


@pytest.mark.parametrize("bad", ["", "abc/../x", "abc.txt", "abc'+x+'", "a b", "令牌", "a" * 65, "abc\n"])
def test_given_a_token_that_is_not_letters_and_digits_then_synth_refuses_it_clearly(bad):
    import aws_cdk as cdk

    from infra.app import _with_context

    app = cdk.App(context={"wechat_mp_verify_token": bad})
    if not bad:  # an empty context value is no setting at all
        assert _with_context(app, STAGES["dev"]).wechat_mp_verify_token is None
        return
    with pytest.raises(ValueError, match=r"stage dev: wechat_mp_verify_token: .*1 to 64 letters and digits"):
        _with_context(app, STAGES["dev"])


def test_given_a_token_in_the_context_then_the_stage_serves_it():
    import aws_cdk as cdk

    from infra.app import _with_context

    assert _with_context(cdk.App(context={"wechat_mp_verify_token": TOKEN}), STAGES["dev"]).wechat_mp_verify_token == TOKEN


def test_checkov_finds_nothing_new_with_a_token(verified, tmp_path):
    from tests.infra.test_scan import scan

    report, _ = scan({"prod-mp-verify": verified["template"]}, tmp_path)
    failed = [f"{r['check_id']} {r['resource']}: {r['check_name']}" for r in report["results"]["failed_checks"]]
    assert failed == []
