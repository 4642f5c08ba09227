"""The local stage's static serving of the member web app (localstage/webapp.py), on a small build."""

from __future__ import annotations

import pytest

from localstage import webapp


@pytest.fixture
def dist(tmp_path):
    build = tmp_path / "dist"
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text("<!doctype html><title>app</title>", encoding="utf-8")
    (build / "assets" / "index-AbC123.js").write_text("console.log(1)", encoding="utf-8")
    (build / "assets" / "index-AbC123.css").write_text("body{}", encoding="utf-8")
    (build / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not for the web", encoding="utf-8")
    return build


def test_given_a_built_file_when_requested_then_it_is_served_with_its_type_and_hashed_assets_are_cached_for_good(dist):
    script = webapp.response("/app/assets/index-AbC123.js", dist)
    assert (script.status, script.body) == (200, b"console.log(1)")
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert script.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert webapp.response("/app/assets/index-AbC123.css", dist).headers["Content-Type"] == "text/css; charset=utf-8"
    icon = webapp.response("/app/favicon.svg", dist)
    assert (icon.headers["Content-Type"], icon.headers["Cache-Control"]) == ("image/svg+xml", "no-cache")


@pytest.mark.parametrize("path", ["/app/", "/app/home", "/app/profile", "/app/signup", "/app/some/deep/page"])
def test_given_a_page_of_the_app_when_requested_then_index_html_is_served_and_never_cached_stale(dist, path):
    page = webapp.response(path, dist)
    assert (page.status, page.body) == (200, b"<!doctype html><title>app</title>")
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_given_a_missing_asset_when_requested_then_404_not_the_page(dist):
    assert webapp.response("/app/assets/gone-123.js", dist).status == 404
    assert webapp.response("/app/logo.png", dist).status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/app/../secret.txt",
        "/app/..%2fsecret.txt",
        "/app/%2e%2e/secret.txt",
        "/app/assets/..%2f..%2fsecret.txt",
        "/app/%2fetc%2fpasswd",
        "/app//etc/passwd",
        "/app/..%5csecret.txt",
        "/app/index.html%00.js",
    ],
)
def test_given_a_path_that_leaves_the_build_when_requested_then_nothing_outside_it_is_served(dist, path):
    answer = webapp.response(path, dist)
    assert answer.status == 404
    assert b"not for the web" not in answer.body and b"root:" not in answer.body


def test_given_a_symlink_out_of_the_build_when_requested_then_it_is_not_followed(dist):
    (dist / "assets" / "leak.txt").symlink_to(dist.parent / "secret.txt")
    assert webapp.response("/app/assets/leak.txt", dist).status == 404


def test_app_without_a_slash_redirects_and_other_prefixes_are_not_the_app(dist):
    redirect = webapp.response("/app", dist)
    assert (redirect.status, redirect.headers["Location"]) == (308, "/app/")
    assert webapp.serves("/app") and webapp.serves("/app/x")
    assert not webapp.serves("/application") and not webapp.serves("/v1/app")


def test_given_no_build_when_the_app_is_requested_then_the_answer_says_how_to_build_it(tmp_path):
    answer = webapp.response("/app/", tmp_path / "nothing")
    assert answer.status == 503
    assert b"make run" in answer.body


# --- WeChat's domain verification file (docs/wechat.md): WECHAT_MP_VERIFY_TOKEN -----------------------


def test_given_a_verification_token_then_its_file_is_served_at_the_root_as_plain_text(dist, monkeypatch):
    monkeypatch.setenv("WECHAT_MP_VERIFY_TOKEN", "Xo3kP9aZ2mQ7wE1r")
    assert webapp.serves("/MP_verify_Xo3kP9aZ2mQ7wE1r.txt")
    answer = webapp.response("/MP_verify_Xo3kP9aZ2mQ7wE1r.txt", dist)
    assert (answer.status, answer.body) == (200, b"Xo3kP9aZ2mQ7wE1r")
    assert answer.headers["Content-Type"] == "text/plain"
    # Only that file: another token's, or the app's pages, are what they were.
    assert not webapp.serves("/MP_verify_other.txt") and not webapp.serves("/MP_verify_Xo3kP9aZ2mQ7wE1r.txt/")
    assert not webapp.serves("/")
    assert webapp.response("/app/home", dist).body == b"<!doctype html><title>app</title>"


def test_given_no_verification_token_then_nothing_is_served_at_the_root(dist, monkeypatch):
    monkeypatch.delenv("WECHAT_MP_VERIFY_TOKEN", raising=False)
    assert not webapp.serves("/MP_verify_Xo3kP9aZ2mQ7wE1r.txt")


@pytest.mark.parametrize("bad", ["../x", "a.txt", "a/b", "a b", "a" * 65])
def test_given_a_bad_verification_token_then_the_local_stack_refuses_to_start(monkeypatch, tmp_path, capsys, bad):
    from localstage import stack

    monkeypatch.setenv("WECHAT_MP_VERIFY_TOKEN", bad)
    assert not webapp.serves(f"/MP_verify_{bad}.txt")
    with pytest.raises(SystemExit) as refused:
        stack.main(["--state-dir", str(tmp_path / "state")])
    assert refused.value.code == 2
    assert "WECHAT_MP_VERIFY_TOKEN" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()  # refused before anything started
