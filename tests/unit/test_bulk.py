"""The rules of bulk files: a grant file's header and rows, and CSV cells a spreadsheet never runs."""

from __future__ import annotations

import pytest

from chalicelib.domain.bulk import BadHeader, GrantRow, RowProblem, grant_header, judge_grant_row, safe_cell


@pytest.mark.parametrize(
    ("columns", "kind"),
    [
        ([], "points"),
        (["member_id", "pionts"], "points"),
        (["member_id", "phone", "points"], "points"),
        (["points"], "points"),
        (["member_id", "points", "points"], "points"),
        (["member_id", "coupon"], "points"),
        (["phone", "points"], "coupon"),
    ],
)
def test_given_a_header_that_is_not_a_grant_files_then_it_is_refused_with_a_reason(columns, kind):
    with pytest.raises(BadHeader):
        grant_header(columns, kind)


def test_given_a_header_with_a_bom_spaces_and_capitals_then_its_columns_are_read():
    assert grant_header(["\ufeffPhone ", " Points", "row_id"], "points") == ["phone", "points", "row_id"]


def judge(cells, kind="points", default_points=None, default_coupon=None):
    return judge_grant_row(3, cells, kind=kind, default_points=default_points, default_coupon=default_coupon, region="CN")


def test_given_a_national_phone_then_it_is_read_as_e164_and_the_row_id_is_its_key():
    row = judge({"phone": "138 0013 8000", "points": "20", "row_id": "a-1"})
    assert row == GrantRow(3, "id:a-1", None, "+8613800138000", 20, None)


def test_given_no_row_id_then_the_row_number_is_its_key_and_an_empty_amount_takes_the_default():
    assert judge({"member_id": "mbr_0123abcd", "points": ""}, default_points=5) == GrantRow(3, "n:3", "mbr_0123abcd", None, 5, None)


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"member_id": "mbr_0123abcd", "points": ""}, "points: missing, and the batch has no default"),
        ({"member_id": "mbr_0123abcd", "points": "0"}, "points: a whole number from 1 to 1000000"),
        ({"member_id": "mbr_0123abcd", "points": "-5"}, "points: a whole number from 1 to 1000000"),
        ({"member_id": "mbr_0123abcd", "points": "1.5"}, "points: a whole number from 1 to 1000000"),
        ({"member_id": "mbr_0123abcd", "points": "2000000"}, "points: a whole number from 1 to 1000000"),
        ({"member_id": "=cmd|' /C calc'!A0", "points": "5"}, "member_id: not a member id"),
        ({"phone": "12", "points": "5"}, "phone: not a valid phone number"),
        ({"member_id": "mbr_0123abcd", "points": "5", "row_id": "a b"}, "row_id: 1 to 64 letters, digits, . _ : -"),
    ],
)
def test_given_a_bad_row_then_the_reason_names_the_column_never_its_content(cells, reason):
    assert judge(cells) == RowProblem(3, reason)


def test_given_a_coupon_row_then_its_reward_or_the_default_is_taken():
    assert judge({"member_id": "mbr_0a", "coupon": ""}, kind="coupon", default_coupon="coffee").coupon == "coffee"
    assert judge({"member_id": "mbr_0a", "coupon": "tea"}, kind="coupon", default_coupon="coffee").coupon == "tea"
    assert judge({"member_id": "mbr_0a", "coupon": ""}, kind="coupon") == RowProblem(3, "coupon: missing, and the batch has no default")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+86 138", "'+86 138"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("张伟", "张伟"),
        (-20, "-20"),
        (None, ""),
        (True, "true"),
    ],
)
def test_given_a_cell_that_would_start_a_formula_then_it_is_escaped_and_numbers_stay_numbers(value, cell):
    assert safe_cell(value) == cell
