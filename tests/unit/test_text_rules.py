"""Names and free text: what the validator refuses is exactly what the documented pattern excludes."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.api.schemas.fields import INVISIBLE, NAME_PATTERN, TEXT_PATTERN, clean_text

BLANK_LETTERS = "\u115f\u1160\u3164\u2800\uffa0"


def test_every_invisible_character_of_the_bmp_is_in_the_documented_class():
    invisible = re.compile(f"[{INVISIBLE}]")
    for code in range(0x10000):
        ch = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        hidden = ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc", "Zs", "Zl", "Zp") or ch in BLANK_LETTERS
        assert bool(invisible.fullmatch(ch)) == hidden, f"U+{code:04X} {unicodedata.name(ch, '?')}"


def _accepted(value: str, multiline: bool) -> bool:
    try:
        clean_text(value, multiline=multiline)
    except ValueError:
        return False
    return True


# Text a fuzzer or a person would send: ordinary letters, CJK, spaces, and the awkward characters.
AWKWARD = st.sampled_from(list("\u200b\u200d\u202e\u2066\u3000\u00a0\ufeff\u3164\u0301\n\t\x00\x85\x1b") + ["张", "a", " ", "é"])
TEXTS = st.lists(st.one_of(AWKWARD, st.characters()), max_size=8).map("".join)


@settings(max_examples=2000, deadline=None)
@given(TEXTS)
def test_a_name_is_accepted_exactly_when_it_matches_the_documented_pattern(value):
    assert _accepted(value, multiline=False) == bool(re.fullmatch(NAME_PATTERN, value))


@settings(max_examples=2000, deadline=None)
@given(TEXTS)
def test_free_text_is_accepted_exactly_when_it_matches_the_documented_pattern(value):
    assert _accepted(value, multiline=True) == bool(re.fullmatch(TEXT_PATTERN, value))


@pytest.mark.parametrize(
    ("value", "ok"),
    [("张伟", True), (" 张伟 ", True), ("Zoe\u0301", True), ("\u200b", False), ("a\u202eb", False), ("a\nb", False), ("\u3164", False)],
)
def test_names_people_write_are_kept_and_tricks_are_refused(value, ok):
    assert _accepted(value, multiline=False) is ok
