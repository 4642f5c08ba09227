"""What operators do through the operator API (/v1/admin), one module per capability:

- `member_lookup`: find a member by phone or id; their profile, ledger and coupons;
- `member_status_and_tier`: freeze, unfreeze, close, restore, and the tier floor (override);
- `points_adjustments`: credit or debit points by hand, once per adjustment id;
- `reward_catalogue`: list, add, change and retire rewards;
- `merchant_keys`: issue, list and revoke the keys tills and shop backends use;
- `program_rules`: read and replace the rules document.

Every change writes its audit entry (`usecases/audit.py`) in the unit of work that makes it, so
a change and its entry exist together or not at all; the rules, kept in SSM, are audited right
after SSM accepts them.
"""
