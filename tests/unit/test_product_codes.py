"""Scan-to-earn codes as printed and as typed (chalicelib/domain/product_codes.py)."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime

import pytest

from chalicelib.domain import product_codes as pc


def test_given_a_new_code_then_it_is_four_groups_of_four_crockford_symbols_with_at_least_80_bits():
    code = pc.new_product_code()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code)
    assert pc.ENTROPY_BITS >= 80
    assert math.log2(len(pc.ALPHABET)) * pc.CODE_LENGTH >= 80
    assert not set("ILOU") & set(pc.ALPHABET)


def test_given_many_new_codes_then_none_repeats_and_every_symbol_is_used():
    codes = [pc.new_product_code() for _ in range(5000)]
    assert len(set(codes)) == len(codes)
    assert set("".join(codes).replace("-", "")) == set(pc.ALPHABET)


@pytest.mark.parametrize(
    "typed",
    ["7KQ2-M9XD-4TPR-HB3C", "7kq2m9xd4tprhb3c", " 7kq2 m9xd 4tpr hb3c ", "7KQ2--M9XD-4TPR-HB3C", "7kq2-M9xd-4tpr-Hb3c"],
)
def test_given_a_code_typed_in_any_case_with_dashes_or_spaces_then_it_reads_as_the_same_code(typed):
    assert pc.normalise_code(typed) == "7KQ2M9XD4TPRHB3C"


def test_given_letters_people_confuse_with_digits_then_they_read_as_those_digits():
    assert pc.normalise_code("OOOO-IIII-LLLL-oili") == "0000111111110111"


@pytest.mark.parametrize(
    "typed",
    ["", "7KQ2-M9XD-4TPR-HB3", "7KQ2-M9XD-4TPR-HB3CX", "7KQ2-M9XD-4TPR-HB3U", "7KQ2_M9XD_4TPR_HB3C", "７KQ2-M9XD-4TPR-HB3C", "x" * 200],
)
def test_given_text_that_cannot_be_a_code_then_it_is_refused_before_any_lookup(typed):
    assert pc.normalise_code(typed) is None


def test_given_a_code_then_its_digest_is_the_same_however_it_was_typed_and_never_contains_it():
    code = pc.new_product_code()
    digest = pc.code_digest(pc.normalise_code(code) or "")
    assert digest == pc.code_digest(pc.normalise_code(code.lower().replace("-", " ")) or "")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert code.replace("-", "") not in digest.upper()


def test_given_a_batch_that_expires_on_a_day_then_its_codes_earn_through_that_day_only():
    assert pc.may_earn("active", date(2026, 12, 31), date(2026, 12, 31))
    assert not pc.may_earn("active", date(2026, 12, 31), date(2027, 1, 1))
    assert pc.may_earn("active", None, date(2099, 1, 1))
    assert not pc.may_earn("revoked", None, date(2026, 1, 1))


def test_given_redemptions_then_the_rate_is_their_share_of_the_codes():
    assert pc.redemption_rate(0, 0) == 0.0
    assert pc.redemption_rate(1, 3) == 0.3333
    assert pc.redemption_rate(100, 100) == 1.0


def test_given_a_time_then_failed_attempts_count_in_its_hour():
    key, ends = pc.attempt_window(datetime(2026, 5, 1, 9, 41, 7, tzinfo=UTC))
    assert key == "2026-05-01T09"
    assert ends == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def test_given_no_setting_then_a_deployment_writes_10000_codes_in_the_request_and_queues_parts_of_5000_as_the_docs_say():
    from pathlib import Path

    from chalicelib.settings import Settings

    settings = Settings()
    assert (settings.product_codes_sync_max, settings.product_codes_part_size) == (pc.SYNC_MAX, pc.PART_SIZE) == (10_000, 5_000)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "scan-codes.md").read_text()
    assert "Up to 10,000 codes** (`SYNC_MAX`" in docs and "per 5,000 codes (`PART_SIZE`)" in docs
    assert (pc.parts_of(10_001), pc.part_size(10_001, 2)) == (3, 1)
    assert (pc.parts_of(201, 100), pc.part_size(201, 1, 100), pc.part_size(201, 2, 100)) == (3, 100, 1)
