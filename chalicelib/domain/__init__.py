"""The program's rules, pure: no boto3, no PynamoDB, no Chalice, no table (import-linter checks it).

points (lots, earning, spending, claw-back), tiers, expiry, earning (multipliers and promotions),
membership (statuses and their transitions, closure), lifecycle (stages), messaging (channels,
quiet hours, frequency cap), notices (what a member was told, so nothing twice), calendar
(birthdays, anniversaries), profile, wallet (money), reconciliation (the books), codes, tokens,
phones, identity (what proves a phone or an email), rules (the program rules document), errors
(what a caller can act on), clock.
"""
