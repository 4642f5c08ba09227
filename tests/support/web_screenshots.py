"""Screenshots of the member web app's main pages at 390x844 for docs/web.md (docs/web/*.png).

Starts its own local stack (as the e2e tests do), makes a member with some history, and
photographs the pages in Chinese (the default) and a few in English. Needs Debian's chromium and
fonts-noto-cjk (without the fonts Chinese renders as boxes).

    .venv/bin/python -m tests.support.web_screenshots [--out docs/web]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import requests

from tests.e2e.factories import TIMEOUT, bearer, member_with_balance, merchant_headers, new_order_id, redeem
from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS, ROOT
from tests.support.stack import running_stack
from tests.support.web import SESSION_KEY

# (file name, language, path, what to wait for)
PAGES = [
    ("sign-in", "zh-CN", "/app/", "button:has-text('登录')"),
    ("sign-up", "zh-CN", "/app/signup", "button:has-text('发送验证码')"),
    ("home", "zh-CN", "/app/home", "dd.figure-value"),
    ("rewards", "zh-CN", "/app/rewards", "li.reward"),
    ("history", "zh-CN", "/app/history", "table tbody tr"),
    ("wallet", "zh-CN", "/app/wallet", "table tbody tr"),
    ("coupons", "zh-CN", "/app/coupons", "li.coupon"),
    ("profile", "zh-CN", "/app/profile", "input[name=name]"),
    ("referral", "zh-CN", "/app/referral", "img.qr"),
    ("feedback", "zh-CN", "/app/feedback", ".feedback-list li"),
    ("rules", "zh-CN", "/app/rules", "table"),
    ("recover", "zh-CN", "/app/recover", "input"),
    ("transfer", "zh-CN", "/app/transfer", "input[name=to_phone]"),
    ("home-en", "en", "/app/home", "dd.figure-value"),
    ("rewards-en", "en", "/app/rewards", "li.reward"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "web"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as state, running_stack(Path(state)) as stack:
        member = member_with_balance(stack, 1_288)
        redeem(stack, member.token, "coffee")
        requests.post(
            stack.url("/v1/wallet/topups"),
            json={"topup_id": new_order_id(), "member_id": member.member_id, "amount": 50_000, "currency": "CNY"},
            headers=merchant_headers(),
            timeout=TIMEOUT,
        ).raise_for_status()
        sent = requests.post(
            stack.url("/v1/me/feedback"), json={"category": "store", "text": "静安店周六排队太久了。"}, headers=bearer(member.token), timeout=TIMEOUT
        ).json()
        requests.post(stack.url(f"/v1/admin/feedback/{sent['feedback_id']}/answer"), json={"text": "已加开收银台，谢谢您的反馈。"}, timeout=TIMEOUT)
        # Giving points (转赠) is off by default: opened here, so Home offers it and its screen has limits to show.
        rules = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()["rules"]
        rules["transfers"] = {**rules["transfers"], "enabled": True, "max_points": 1000, "max_points_per_day": 2000, "min_balance_kept": 100}
        requests.put(stack.url("/v1/admin/rules"), json={"rules": rules, "reason": "screenshots"}, timeout=TIMEOUT).raise_for_status()
        signed_in = {"token": member.token, "expiresAt": int(time.time() * 1000) + 900_000}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for name, lang, path, ready in PAGES:
                context = browser.new_context(
                    viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True, has_touch=True, locale=lang
                )
                page = context.new_page()
                page.goto(stack.url(f"/app/rules?lang={lang}"))
                if path not in ("/app/", "/app/signup", "/app/rules", "/app/recover"):
                    page.evaluate("([key, value]) => sessionStorage.setItem(key, JSON.stringify(value))", [SESSION_KEY, signed_in])
                page.goto(stack.url(path))
                page.locator(ready).first.wait_for()
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(out / f"{name}.png"))
                context.close()
            # The coupon dialog after a redemption.
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True, has_touch=True, locale="zh-CN"
            )
            page = context.new_page()
            page.goto(stack.url("/app/rules?lang=zh-CN"))
            page.evaluate("([key, value]) => sessionStorage.setItem(key, JSON.stringify(value))", [SESSION_KEY, signed_in])
            page.goto(stack.url("/app/rewards"))
            page.get_by_role("button", name="兑换 免费咖啡 Free coffee").click()
            page.get_by_role("dialog").get_by_role("img").wait_for()
            page.screenshot(path=str(out / "coupon-dialog.png"))
            # The confirmation of a transfer: the points and the receiver's phone, masked.
            page.goto(stack.url("/app/transfer"))
            page.locator("input[name=to_phone]").fill("13912345678")
            page.locator("input[name=points]").fill("200")
            page.locator("input[name=note]").fill("生日快乐")
            page.get_by_role("button", name="下一步").click()
            page.get_by_role("dialog").wait_for()
            page.screenshot(path=str(out / "transfer-dialog.png"))
            browser.close()
    for name, *_ in [*PAGES, ("coupon-dialog",), ("transfer-dialog",)]:
        print(out / f"{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
