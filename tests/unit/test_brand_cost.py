"""The arithmetic of docs/cost.md (tests/bench/brand_cost.py), on made-up measurements: what a
brand is billed follows from the usage profile, the measured calls and the list prices."""

from __future__ import annotations

import pytest

from tests.bench import brand_cost as bc
from tests.bench.capacity import USD_PER_MILLION_RRU, USD_PER_MILLION_WRU

# One kind of request only: a purchase by member id, 1 RRU, 10 WRU, 2 round trips, 700 bytes stored.
PURCHASE = "POST /v1/purchases (by member id)"
USES = {PURCHASE: bc.RequestUse(PURCHASE, rru=1.0, wru=10.0, round_trips=2, sms=0, bytes_stored=700)}
NO_FIXED = bc.Fixed()


def _bill(members: int, fixed: bc.Fixed = NO_FIXED, **kw) -> bc.Bill:
    return bc.monthly_bill(members, USES, {}, fixed, memory_mb=1769, member_item_bytes=600, app_ms=10.0, log_bytes=1000.0, **kw)


def _line(bill: bc.Bill, component: str) -> bc.Line:
    return next(line for line in bill.lines if line.component == component)


def test_given_the_profile_when_a_brand_has_a_million_members_then_its_purchases_follow_the_stated_shares():
    volumes = bc.monthly_requests(1_000_000)
    purchases = 1_000_000 * bc.ACTIVE_SHARE * bc.PURCHASES_PER_ACTIVE
    known = purchases * (1 - bc.UNKNOWN_PHONE_SHARE)
    assert volumes[PURCHASE] == pytest.approx(known * (1 - bc.MONTHS_FIRST_SHARE) * (1 - bc.BY_PHONE_SHARE))
    assert volumes["POST /v1/purchases (by phone, the month's first)"] == pytest.approx(known * bc.MONTHS_FIRST_SHARE)
    assert volumes["POST /v1/purchases (unknown phone)"] == pytest.approx(purchases * bc.UNKNOWN_PHONE_SHARE)
    assert volumes["POST /v1/auth/code"] == volumes["POST /v1/auth/verify (returning)"]


def test_given_measured_units_when_billed_then_dynamodb_api_gateway_and_lambda_are_the_units_times_the_list_prices():
    bill = _bill(1_000_000)
    n = bc.monthly_requests(1_000_000)[PURCHASE]
    assert bill.requests == pytest.approx(n)  # the only kind measured: the others are left out, not guessed
    assert _line(bill, "DynamoDB requests (API)").usd == pytest.approx(n * (1 * USD_PER_MILLION_RRU + 10 * USD_PER_MILLION_WRU) / 1e6)
    assert _line(bill, "API Gateway (REST)").usd == pytest.approx(n * 3.50 / 1e6)
    # At 1,769 MB Lambda gives a whole vCPU: 10 ms of app + 2 x 10 ms of DynamoDB = 30 ms billed at 1769/1024 GB.
    assert _line(bill, "Lambda duration").usd == pytest.approx(n * 1769 / 1024 * 0.030 * bc.LAMBDA_USD_PER_GB_SECOND)


def test_given_a_table_when_stored_for_the_history_then_storage_is_members_plus_a_year_of_created_items():
    size = bc.table_bytes(1_000, USES, member_item_bytes=600)
    purchases = bc.monthly_requests(1_000)[PURCHASE]
    assert size == pytest.approx(1_000 * (600 + bc.ITEM_OVERHEAD_BYTES) + purchases * 700 * bc.HISTORY_MONTHS)
    bill = _bill(1_000, bc.Fixed(pitr=True))
    assert _line(bill, "Point-in-time recovery").usd == pytest.approx(size / 1e9 * bc.DYNAMODB_PITR_USD_PER_GB_MONTH)
    assert _line(_bill(1_000), "Point-in-time recovery").usd == 0


def test_given_a_stage_template_when_counted_then_fixed_costs_follow_what_it_deploys():
    template = {
        "Resources": {
            "Dash": {"Type": "AWS::CloudWatch::Dashboard"},
            "A1": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
            "A2": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Metrics": [{"MetricStat": {}}, {"MetricStat": {}}, {"Expression": "m1/m2"}]}},
            "Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {"Rules": [{}, {}, {}, {}]}},
            "Secret": {"Type": "AWS::SecretsManager::Secret"},
            "Key": {"Type": "AWS::KMS::Key"},
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 365}},
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}},
        }
    }
    fixed = bc.count_fixed(template, app_metrics=10, daily_metrics=5)
    assert (fixed.dashboards, fixed.alarms, fixed.alarm_metrics, fixed.web_acls, fixed.waf_rules) == (1, 2, 3, 1, 4)
    assert (fixed.secrets, fixed.kms_keys, fixed.log_retention_days, fixed.pitr) == (1, 1, 365, True)
    # 3 + 3 x 0.10 + (5 + 4 x 1) + 0.40 + 1 = 13.70 USD a month whatever the traffic
    assert sum(line.usd for line in bc.fixed_lines(fixed)) == pytest.approx(13.70)
    assert _bill(1_000, fixed).fixed == pytest.approx(13.70)


def test_given_custom_metrics_when_billed_then_they_are_prorated_by_the_hours_they_are_published_in():
    fixed = bc.Fixed(app_metrics=10, daily_metrics=5)
    # A brand large enough that every app metric is published every hour: 10 full metric-months, and 5 metrics a day.
    big = _line(_bill(1_000_000, fixed), "CloudWatch custom metrics").usd
    assert big == pytest.approx((10 + 5 * bc.DAYS_PER_MONTH / bc.HOURS_PER_MONTH) * bc.CLOUDWATCH_CUSTOM_METRIC_USD_MONTH)
    # A brand of 100 members: 47 purchases by member id a month publish each app metric in at most 4.7 hours.
    small = _line(_bill(100, fixed), "CloudWatch custom metrics").usd
    hours = bc.monthly_requests(100)[PURCHASE] / 10
    assert small == pytest.approx((10 * hours + 5 * bc.DAYS_PER_MONTH) / bc.HOURS_PER_MONTH * bc.CLOUDWATCH_CUSTOM_METRIC_USD_MONTH)


def test_given_the_cheaper_setting_when_billed_then_the_web_acl_its_request_charge_and_the_dashboard_are_gone():
    full = bc.Fixed(dashboards=1, alarms=20, alarm_metrics=20, web_acls=1, waf_rules=4, secrets=1, kms_keys=1)
    lean = bc.Fixed(alarms=20, alarm_metrics=20, secrets=1, kms_keys=1)
    saved = _bill(100_000, full).total - _bill(100_000, lean).total
    waf_requests = bc.monthly_requests(100_000)[PURCHASE] * bc.WAF_USD_PER_MILLION_REQUESTS / 1e6
    assert saved == pytest.approx(bc.CLOUDWATCH_DASHBOARD_USD_MONTH + bc.WAF_WEB_ACL_USD_MONTH + 4 * bc.WAF_RULE_USD_MONTH + waf_requests)


def test_given_sms_when_priced_then_both_providers_price_the_same_messages():
    uses = {**USES, "POST /v1/auth/code": bc.RequestUse("POST /v1/auth/code", 1.0, 2.0, 3, sms=1)}
    bill = bc.monthly_bill(100_000, uses, {}, NO_FIXED, memory_mb=512, member_item_bytes=600)
    codes = bc.monthly_requests(100_000)["POST /v1/auth/code"]
    assert bill.sms_messages == pytest.approx(codes + bc.monthly_job_messages(100_000))
    assert bill.sms_sns_usd == pytest.approx(bill.sms_messages * bc.SNS_SMS_USD_CHINA)
    assert bill.sms_china_usd == pytest.approx(bill.sms_messages * bc.CHINA_SMS_CNY / bc.CNY_PER_USD)


def test_given_job_measurements_when_billed_then_each_member_acted_on_costs_its_jobs_units():
    jobs = {"birthday-bonus": bc.JobUse("birthday-bonus", rru=1.0, wru=8.0, round_trips=1.1, measured_members=2000, acted=20)}
    with_jobs = bc.monthly_bill(12_000, USES, jobs, NO_FIXED, memory_mb=512, member_item_bytes=600)
    without = bc.monthly_bill(12_000, USES, {}, NO_FIXED, memory_mb=512, member_item_bytes=600)
    acted = 12_000 * bc.BIRTHDAY_KNOWN_SHARE / 12
    extra = _line(with_jobs, "DynamoDB requests (jobs)").usd - _line(without, "DynamoDB requests (jobs)").usd
    assert extra == pytest.approx(acted * (1.0 * USD_PER_MILLION_RRU + 8.0 * USD_PER_MILLION_WRU) / 1e6)
