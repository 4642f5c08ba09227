"""Campaign decisions (domain/campaigns.py): the control group, what a member's outcome counts."""

from __future__ import annotations

from chalicelib.domain.campaigns import CampaignActions, MemberOutcome, in_control_group, tally_keys


def test_given_no_holdout_then_nobody_is_held_out():
    assert not any(in_control_group("cmp_1", f"m{n}", 0) for n in range(1000))


def test_given_a_holdout_then_the_same_members_are_held_out_every_time_and_about_that_share_of_them():
    members = [f"m{n}" for n in range(20_000)]
    first = {m for m in members if in_control_group("cmp_1", m, 10)}
    again = {m for m in members if in_control_group("cmp_1", m, 10)}
    assert first == again
    assert 1_800 <= len(first) <= 2_200


def test_given_two_campaigns_then_their_control_groups_differ():
    members = [f"m{n}" for n in range(2_000)]
    assert {m for m in members if in_control_group("cmp_1", m, 20)} != {m for m in members if in_control_group("cmp_2", m, 20)}


def test_given_only_points_then_the_campaign_is_not_marketing():
    assert not CampaignActions(message=None, points=10, coupon_reward_id=None).is_marketing
    assert CampaignActions(message={"sms": "hi"}, points=10, coupon_reward_id=None).is_marketing


def test_given_a_member_sent_to_with_points_then_they_count_as_reached_sent_and_granted():
    counts = tally_keys(MemberOutcome("sent", channel="sms", points=20, coupon=True))
    assert counts == {"examined": 1, "messages_sent": 1, "points_granted": 20, "coupons_issued": 1, "reached": 1}


def test_given_a_message_whose_hand_over_is_not_known_then_reached_and_unconfirmed_never_sent():
    counts = tally_keys(MemberOutcome("unconfirmed", channel="sms", points=20))
    assert counts == {"examined": 1, "messages_unconfirmed": 1, "points_granted": 20, "reached": 1}


def test_given_a_grant_whose_message_was_capped_then_reached_and_skipped_for_the_cap():
    counts = tally_keys(MemberOutcome("granted", reason="frequency_cap", points=5))
    assert counts == {"examined": 1, "skipped.frequency_cap": 1, "points_granted": 5, "reached": 1}


def test_given_a_control_member_then_only_control_counts():
    assert tally_keys(MemberOutcome("control")) == {"examined": 1, "control": 1}


def test_given_a_skipped_member_then_not_reached():
    assert tally_keys(MemberOutcome("skipped", reason="status_frozen")) == {"examined": 1, "skipped.status_frozen": 1}
