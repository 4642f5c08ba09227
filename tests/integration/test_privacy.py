"""Personal data and secrets never reach the logs."""

import logging

from tests.integration.conftest import MERCHANT, bearer
from tests.support.outbox import last_code


def test_given_a_whole_member_journey_then_no_log_line_holds_personal_data_codes_tokens_or_keys(api, outbox_path, capfd, caplog):
    caplog.set_level(logging.DEBUG, logger="huiyuan")  # ours; botocore DEBUG dumps wire bodies by design
    phone, national = "+8613912345678", "13912345678"
    name, email, birthday = "欧阳娜娜", "nana.private@example.cn", "1991-07-15"
    api.post("/v1/signup", {"phone": national, "name": name, "email": email, "birthday": birthday})
    code = last_code(outbox_path, phone)
    api.post("/v1/auth/verify", {"phone": phone, "code": "000000" if code != "000000" else "111111"})
    verified = api.post("/v1/auth/verify", {"phone": phone, "code": code}).json()
    token = verified["access_token"]
    api.post("/v1/purchases", {"order_id": "o-1", "phone": national, "amount": 80000, "currency": "CNY"}, headers=MERCHANT)
    api.post("/v1/purchases", {"order_id": "o-2", "phone": "+8613700000000", "amount": 100, "currency": "CNY"}, headers=MERCHANT)
    api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k"})
    api.get("/v1/me", headers=bearer("Bearer " + token[:-3]))
    api.post("/v1/signup", {"phone": national, "name": name, "email": "broken@"})

    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "member enrolled" in logged  # the logs were captured at all
    for secret in (phone, national, "13700000000", name, email, birthday, code, token, token.split(".")[2], "local-dev-key"):
        assert secret not in logged, f"log leaked {secret[:4]}..."
