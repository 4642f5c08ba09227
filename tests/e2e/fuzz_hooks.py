"""schemathesis hooks for the fuzz run (tests/e2e/test_fuzz.py): how to make a phone number
and a date, where the rule is one no schema can state.

openapi.yaml marks phones `format: phone`; whether a string is a phone number is a rule no
pattern can state, so the fuzzer is told how real ones look (CN mobiles, in E.164 and national
form). The request dates are birthdays (from 1900, never in the future) and an audit day: the
fuzzer makes dates in that span. Its other strings still probe what is refused.
"""

from __future__ import annotations

from datetime import date

import schemathesis
from hypothesis import strategies as st

# Mobile number blocks phonenumbers (the library the API parses with) knows as valid in CN.
_BLOCKS = ("130", "131", "135", "136", "138", "139", "150", "151", "186", "187", "188")

PHONES = st.builds(
    lambda block, rest, e164: f"+86{block}{rest}" if e164 else f"{block}{rest}",
    st.sampled_from(_BLOCKS),
    st.text("0123456789", min_size=8, max_size=8),
    st.booleans(),
)

schemathesis.openapi.format("phone", PHONES)
schemathesis.openapi.format("date", st.dates(min_value=date(1900, 1, 1), max_value=date.today()).map(date.isoformat))
