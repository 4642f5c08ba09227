"""Helpers for the member web app's browser tests: a phone-sized tab on the local stack, the
names a member sees in each language, and waiting for codes in the stack's outbox."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.browser import PHONE
from tests.support.outbox import CODE, messages

# The accessible names members (and the outside acceptance tests) find things by. English ones
# are ../shared/WEB.md's contract; the Chinese ones are the app's (web/src/locales/zh-CN.ts).
NAMES: dict[str, dict[str, Any]] = {
    "en": {
        "phone": "Phone",
        "name": "Name",
        "referral_code": "Referral code",
        "send_code": "Send code",
        "code": "Code",
        "sign_in": "Sign in",
        "sign_up": "Sign up",
        "program_rules": "Program rules",
        "lost_phone": "Lost your phone?",
        "nav": ["Home", "Rewards", "History", "Wallet", "Coupons", "Profile"],
        "points_balance": "Points balance",
        "wallet_balance": "Wallet balance",
        "redeem": "Redeem",
        "coupon_qr": "Coupon QR code",
        "history": "Points history",
        "email": "Email",
        "birthday": "Birthday",
        "save": "Save",
        "email_code": "Confirmation code",
        "confirm_email": "Confirm address",
        "gender": "Gender",
        "female": "Female",
        "coffee": "Coffee",
        "sms_offers": "Offers by SMS",
        "sign_out": "Sign out",
        "close_account": "Close account",
        "expired": "Your session has expired",
        "tier_member": "Member",
    },
    "zh-CN": {
        "phone": "手机号",
        "name": "姓名",
        "referral_code": "邀请码",
        "send_code": "发送验证码",
        "code": "验证码",
        "sign_in": "登录",
        "sign_up": "注册会员",
        "program_rules": "会员规则",
        "lost_phone": "手机号不能用了？",
        "nav": ["首页", "积分兑换", "积分明细", "钱包", "卡券", "我的"],
        "points_balance": "积分余额",
        "wallet_balance": "钱包余额",
        "redeem": "兑换",
        "coupon_qr": "券码二维码",
        "history": "积分记录",
        "email": "邮箱",
        "birthday": "生日",
        "save": "保存",
        "email_code": "邮箱验证码",
        "confirm_email": "确认邮箱",
        "gender": "性别",
        "female": "女",
        "coffee": "咖啡",
        "sms_offers": "短信优惠",
        "sign_out": "退出登录",
        "close_account": "注销账户",
        "expired": "登录已过期",
        "tier_member": "普通会员",
    },
}
SESSION_KEY = "huiyuan.session"  # web/src/lib/session.ts


@dataclass
class Tab:
    """One phone-sized browser context and its page; errors the page throws are kept to assert on."""

    context: Any
    page: Any
    base: str
    page_errors: list[str] = field(default_factory=list)
    api_calls: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def sign_in_as(self, token: str, seconds_left: float = 900, path: str = "/app/home") -> None:
        """Start the session the way the app does after verify (sessionStorage), then open `path`."""
        self.goto("/app/rules")
        expires_at = int(time.time() * 1000 + seconds_left * 1000)
        self.page.evaluate(
            "([key, token, at]) => sessionStorage.setItem(key, JSON.stringify({token, expiresAt: at}))",
            [SESSION_KEY, token, expires_at],
        )
        self.goto(path)

    def stored_session(self) -> Any:
        return self.page.evaluate("key => sessionStorage.getItem(key)", SESSION_KEY)

    def no_horizontal_scroll(self) -> bool:
        return bool(self.page.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth"))


# WeChat's in-app browser on Android, as it introduces itself (the app offers "Sign in with WeChat" there).
WECHAT_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 13; V2148A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
    "Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F30) "
    "WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)


def open_tab(browser: Any, base: str, viewport: dict[str, int] = PHONE, *, user_agent: str | None = None) -> Tab:
    options: dict[str, Any] = {"user_agent": user_agent} if user_agent else {}
    context = browser.new_context(viewport=viewport, device_scale_factor=1, is_mobile=True, has_touch=True, accept_downloads=True, **options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    tab = Tab(context, page, base)
    page.on("pageerror", lambda error: tab.page_errors.append(str(error)))
    page.on("request", lambda request: "/v1/" in request.url and tab.api_calls.append(f"{request.method} {request.url.split('/v1/', 1)[1]}"))
    return tab


def open_app_in_english(browser: Any, base: str, viewport: dict[str, int] = PHONE) -> Tab:
    """A tab open on the app in English, the language whose names ../shared/WEB.md gives."""
    tab = open_tab(browser, base, viewport)
    tab.goto("/app/?lang=en")
    return tab


def signed_in_tab(browser: Any, base: str, token: str, *, seconds_left: float = 900, path: str = "/app/home") -> Tab:
    """A phone-sized tab on the app in English, signed in with `token` and open at `path`."""
    tab = open_app_in_english(browser, base)
    tab.sign_in_as(token, seconds_left, path)
    return tab


def wait_for_code(outbox: Any, to: str, *, after: int = 0, timeout: float = 10.0) -> str:
    """The newest code sent to `to` (a phone or an email) among the outbox's messages after the first `after`."""
    deadline = time.monotonic() + timeout
    while True:
        for message in reversed(messages(outbox)[after:]):
            if message["to"] == to and message["kind"] == "verification_code":
                match = CODE.search(message["body"])
                assert match, "a verification message carries a code"
                return match.group(1)
        if time.monotonic() > deadline:
            raise AssertionError(f"no code was sent to {to} within {timeout} s")
        time.sleep(0.1)


def outbox_size(outbox: Any) -> int:
    return len(messages(outbox))


def forget_last_code_sent(stack: Any, phone: str) -> None:
    """As if the resend interval had passed for `phone`: its send marker removed at the DynamoDB boundary
    (a member just made through the API was sent a code moments ago)."""
    from chalicelib.store import keys

    stack.dynamodb().delete_item(TableName=stack.table_name, Key={"pk": {"S": keys.phone_pk(phone)}, "sk": {"S": keys.SENT}})
