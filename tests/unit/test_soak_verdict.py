"""The soak's verdict and figures (tests/bench/soak.py), without a stack: what makes `make soak`
fail, and how its latency and memory figures are computed from what it measured."""

from __future__ import annotations

import json

import pytest

from tests.bench import soak


def _result(**changes) -> soak.SoakResult:
    """A soak that passed: 600 s, no error, clean books, memory flat."""
    calls = [soak.Call("GET /v1/me", 200, 0.1 * (n + 1), 40.0 + n) for n in range(10)]
    fields = {
        "measured_on": "2026-11-30",
        "commit": "abc1234",
        "machine": "2 cores",
        "seconds": 600.0,
        "window": 601.0,
        "warmup": 30.0,
        "clients": 4,
        "members": 32,
        "requests": len(calls),
        "routes": soak.route_stats(calls, 30.0),
        "fivexx": 0,
        "no_answer": 0,
        "unexpected_4xx": {},
        "jobs": [soak.JobRun("reconcile", "2026-11-30", 602.0, 10.0, 0, {"ledger": {}})],
        "books": soak.Books(reconcile_ok=True, members_checked=40, outstanding_points=1000, scanned_members=40, scanned_points=1000),
        "rss_mb": [(float(t), 400.0) for t in range(0, 601, 2)],
        "rss_baseline_mb": 400.0,
        "rss_end_mb": 410.0,
        "rss_slope_mb_per_min": 0.5,
        "rss_bound_mb": 32.0,
        "rss_kb_per_item": 4.0,
        "stack_cpu_seconds": 300.0,
        "table_items_before": 100,
        "table_items_after": 5000,
        "load_average": (1.0, 1.0, 1.0),
    }
    return soak.SoakResult(**{**fields, **changes})


def test_given_a_clean_soak_when_judged_then_it_passes_and_says_so():
    result = _result()
    assert soak.verdict(result) == []
    assert soak.summary_lines(result)[0] == "Verdict: **PASS**"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"fivexx": 1}, "1 answers were 5xx"),
        ({"no_answer": 2}, "2 requests got no answer"),
        ({"unexpected_4xx": {"POST /v1/auth/code 429 too_many_attempts": 3}}, "unexpected 4xx: 3 x POST /v1/auth/code 429"),
        ({"rss_end_mb": 452.0}, "RSS grew 52.0 MB, more than the 51.1 MB allowed (32 MB + 4 KB x 4,900 items added)"),
        ({"books": soak.Books(reconcile_ok=True, drift=1, drift_member_ids=["mbr_1"])}, "1 members drift"),
        ({"books": soak.Books(reconcile_ok=True, unsettled=1)}, "1 unsettled"),
        ({"books": soak.Books(reconcile_ok=False)}, "the final reconcile job did not report"),
        ({"books": soak.Books(reconcile_ok=True, scan_mismatches=["mbr_1: balance 5, ledger 4"])}, "ledger sums != balances for 1 members"),
        ({"books": soak.Books(reconcile_ok=True, outstanding_points=10, scanned_points=9)}, "outstanding points 10 != the Scan's sum of balances 9"),
        ({"jobs": [soak.JobRun("tier-review", "2026-11-30", 200.0, 9.0, 1, error="boom")]}, "job tier-review 2026-11-30 failed (exit 1)"),
        ({"client_problems": ["purchase: KeyError: 'balance'"]}, "answers a client could not use"),
        ({"requests": 0}, "no request was sent"),
    ],
)
def test_given_a_soak_that_broke_a_promise_when_judged_then_it_fails_naming_why(changes, reason):
    failures = soak.verdict(_result(**changes))
    assert any(reason in f for f in failures), failures
    assert soak.summary_lines(_result(**changes))[0].startswith("Verdict: **FAIL**")


def test_given_memory_that_grew_with_the_table_when_judged_then_only_growth_beyond_the_data_fails():
    # 4,900 items added: 32 MB + 4 KB x 4,900 = 51.1 MB allowed.
    assert soak.verdict(_result(rss_end_mb=451.0)) == []
    assert soak.verdict(_result(rss_end_mb=451.0, table_items_after=100))  # the same growth with no item added is a leak


def test_given_the_memory_never_sampled_when_judged_then_it_fails():
    assert "the stack's memory was not sampled" in soak.verdict(_result(rss_baseline_mb=float("nan"), rss_end_mb=float("nan")))


def test_given_latencies_when_summarised_per_route_then_the_warm_up_is_left_out_of_the_percentiles_but_not_the_answers():
    calls = [soak.Call("POST /v1/purchases", 201, 9.0, 1.0)] + [soak.Call("POST /v1/purchases", 201, n / 1000, 31.0 + n) for n in range(1, 101)]
    calls.append(soak.Call("POST /v1/purchases", 0, 60.0, 50.0, "ReadTimeout"))
    [stats] = soak.route_stats(calls, warmup=30.0)
    assert stats.count == 102
    assert (stats.p50_ms, stats.p95_ms, stats.p99_ms, stats.max_ms) == (50.0, 95.0, 99.0, 100.0)  # neither the 9 s warm-up call nor the timeout
    assert stats.statuses == {"201": 101, "no answer": 1}


def test_given_rss_samples_when_the_trend_is_taken_then_growth_is_last_tenth_minus_first_tenth_after_the_warm_up():
    # 100 MB during the warm-up (imports), then 400 MB growing 1 MB a minute.
    samples = [(float(t), 100.0 if t < 30 else 400.0 + (t - 30) / 60) for t in range(0, 631, 2)]
    baseline, end, slope = soak.rss_trend(samples, warmup=30.0, window=630.0)
    assert 400.0 <= baseline <= 400.6
    assert 409.4 <= end <= 410.0
    assert end - baseline == pytest.approx(9.0, abs=0.3)
    assert slope == pytest.approx(1.0, abs=0.01)


def test_given_a_result_when_written_and_read_back_then_the_section_make_bench_renders_is_the_same(tmp_path):
    result = _result(unexpected_4xx={}, rss_end_mb=412.5)
    path = tmp_path / "soak.json"
    path.write_text(json.dumps(soak.to_json(result)))
    again = soak.load_result(path)
    assert again == result
    section = "\n".join(soak.markdown(again))
    assert "## Soak" in section and "2026-11-30" in section and "abc1234" in section
    assert "growth +12.5 MB (allowed 51.1 MB: 32 MB + 4 KB per item added)" in section
    assert "| GET /v1/me | 10 |" in section
    assert soak.load_result(tmp_path / "absent.json") is None
