"""Surveys (问卷, issue 15 item 6; docs/surveys.md): operators define a short questionnaire for
everyone or a segment; members answer once; an optional reward is paid with the answer.

- Create (a draft), publish, close: operator actions, each audited in its own unit of work.
  Publishing a segment survey takes the segment's latest audience (store/audiences.py) if it
  counts the segment's current definition (none yet: 409 segment_not_ready; being counted: 409
  segment_computing; its count failed: 409 segment_failed; the publication's transaction checks
  the segment's version again) and has the `survey-invitations` job write one invitation per member
  (a unit per audience part, through the jobs queue): at answer time the member's invitation is
  one item read with the member, never a scan of the audience.
- Answering is one transaction: the member's response (put only if absent: a second answer, or
  a concurrent one, is 409 already_answered), the reward (a ledger entry and lot with the
  balance, or a coupon and its code guard), the results' counters on a random shard, the free
  text for operators, and a check that the survey is still published (a close that lands first
  makes the answer 409 survey_not_open).
- Results are the shards' counters summed: one query, whatever the number of responses.
- Free-text answers are personal data: in the member's export (their response), erased with the
  membership (store/closure.py), never logged or audited; operators read them only through
  `GET /v1/admin/surveys/{id}/free-text`, without member ids, and each read is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..api.schemas.surveys import SurveyAnswersRequest, SurveyRequest
from ..domain import surveys as rules_of
from ..domain.clock import iso, today_in, utcnow
from ..domain.errors import AlreadyAnswered, FieldError, InvalidAnswers, InvalidState, NotFound, SegmentComputing, SurveyNotOpen, SurveyUnanswerable
from ..domain.membership import require_may_earn
from ..domain.points import earn, lot_expires_on, month_key
from ..observability import count, logger
from ..store import audiences, job_queue, segments
from ..store import surveys as store
from ..store.coupons import add_coupon
from ..store.ledger import ledger_entry, open_lot
from ..store.members import points_state, points_update, update_member
from ..store.models_surveys import Survey, SurveyResponse
from ..store.parameters import load_rules
from ..store.rewards import get_reward
from ..store.unit_of_work import Cancelled, UnitOfWork, member_turn, run
from .audit import Change, add_audit, record_audit
from .common import Answer, created
from .coupons import gift_coupon
from .operations.segments import Usable, audience_to_use, segment_exists
from .sessions import MemberSession

SURVEY_KIND = "survey"  # the coupon kind and the ledger entry's ref prefix
INVITATIONS_JOB = "survey-invitations"


# --- views ------------------------------------------------------------------------------------


def _definition(survey: Survey) -> dict[str, Any]:
    reward: dict[str, Any] | None = None
    if survey.reward_points:
        reward = {"points": int(survey.reward_points)}
    elif survey.reward_id:
        reward = {"reward_id": survey.reward_id}
    return {
        "survey_id": survey.survey_id,
        "title": survey.title,
        "intro": survey.intro,
        "questions": store.questions_of(survey),
        "opens_at": iso(survey.opens_at),
        "closes_at": iso(survey.closes_at),
        "reward": reward,
    }


def operator_view(survey: Survey, now: datetime) -> dict[str, Any]:
    return {
        **_definition(survey),
        "status": survey.status,
        "state": rules_of.state_at(survey.status, survey.opens_at, survey.closes_at, now),
        "target": survey.target,
        "segment_id": survey.segment_id,
        "audience": (
            {
                "audience_id": survey.audience_id,
                "count": int(survey.audience_count or 0),
                "data_as_of": iso(survey.audience_as_of) if survey.audience_as_of else None,
            }
            if survey.audience_id
            else None
        ),
        "created_at": iso(survey.created_at),
        "published_at": iso(survey.published_at) if survey.published_at else None,
        "closed_at": iso(survey.closed_at) if survey.closed_at else None,
    }


def _response_view(response: SurveyResponse | None) -> dict[str, Any] | None:
    if response is None:
        return None
    return {
        "answers": store.answers_of(response),
        "answered_at": iso(response.answered_at),
        "reward": {"points": int(response.reward_points or 0), "coupon_code": response.coupon_code},
    }


def member_view(survey: Survey, response: SurveyResponse | None, now: datetime) -> dict[str, Any]:
    return {
        **_definition(survey),
        "state": rules_of.state_at(survey.status, survey.opens_at, survey.closes_at, now),
        "answered": response is not None,
        "response": _response_view(response),
    }


# --- operators --------------------------------------------------------------------------------


def _survey_or_404(survey_id: str) -> Survey:
    survey = store.get_survey(survey_id)
    if survey is None:
        raise NotFound(f"No survey {survey_id}")
    return survey


def create_survey(request: SurveyRequest, actor: str) -> Answer:
    """201 and the draft; 422 survey_unanswerable for a definition no member could answer."""
    rules = load_rules()
    now = utcnow()
    definition = request.model_dump(mode="python")
    problems = rules_of.definition_problems(definition["questions"], request.opens_at, request.closes_at, now)
    if request.reward is not None and request.reward.reward_id is not None:
        reward = get_reward(request.reward.reward_id)
        if reward is None or not reward.active:
            problems.append(FieldError("reward.reward_id", "no active reward in the catalogue has this id"))
    if request.segment_id is not None and not segment_exists(request.segment_id):
        problems.append(FieldError("segment_id", "no segment has this id"))
    if problems:
        raise SurveyUnanswerable(problems)

    def attempt(uow: UnitOfWork) -> Answer:
        survey = store.new_survey(definition, now)
        store.add_survey(uow, survey)
        after = {"title": survey.title, "target": survey.target, "segment_id": survey.segment_id, "questions": len(definition["questions"])}
        add_audit(uow, Change(actor, "survey.create", "survey", survey.survey_id, None, after), rules, now)
        uow.commit()  # the id was taken meanwhile: a new one
        return created(operator_view(survey, now))

    answer = run(attempt)
    count("SurveysCreated")
    logger.info("survey created", extra={"survey_id": answer.body["survey_id"]})
    return answer


def publish_survey(survey_id: str, actor: str) -> dict[str, Any]:
    """Publish a draft: members see it from `opens_at`. A segment survey invites the segment's
    audience counting its current definition (409 segment_not_ready, segment_computing or
    segment_failed without one; the segment deleted: 409 invalid_state); publishing again: 409
    invalid_state."""
    rules = load_rules()
    survey = _survey_or_404(survey_id)
    if survey.status != rules_of.DRAFT:
        raise InvalidState(f"The survey is {survey.status}; only a draft can be published")
    usable: Usable | None = None
    if survey.target == "segment":
        try:
            usable = audience_to_use(str(survey.segment_id))
        except NotFound:
            raise InvalidState(f"The survey's segment {survey.segment_id} no longer exists") from None
    manifest = usable.manifest if usable is not None else None
    audience = {"audience_id": manifest.audience_id, "count": manifest.count, "data_as_of": manifest.data_as_of} if manifest else {}
    counters = rules_of.counters_of(store.questions_of(survey))

    def attempt(uow: UnitOfWork) -> Survey:
        now = utcnow()
        store.publish(uow, survey, counters, audience, now)
        if usable is not None and usable.version is not None:
            segments.check_version(uow, str(survey.segment_id), usable.version)
        after = {"status": "published", "audience_id": audience.get("audience_id"), "audience_count": audience.get("count")}
        add_audit(uow, Change(actor, "survey.publish", "survey", survey_id, {"status": "draft"}, after), rules, now)

        def explain(cancelled: Cancelled) -> None:
            if "segment" in cancelled.failed:
                raise SegmentComputing("The segment was changed meanwhile and is being counted: publish when its status is ready")
            raise InvalidState("The survey was published or closed meanwhile")

        uow.commit(explain)
        survey.status, survey.published_at = "published", now
        return survey

    published = run(attempt)
    if manifest is not None:
        units = _units(survey_id, manifest)
        job_queue.start_units(INVITATIONS_JOB, today_in(rules.zone, utcnow()).isoformat(), units, now=utcnow())
        published.audience_id, published.audience_count, published.audience_as_of = manifest.audience_id, manifest.count, manifest.data_as_of
    count("SurveysPublished")
    logger.info("survey published", extra={"survey_id": survey_id, "target": survey.target, "audience": audience.get("count")})
    return operator_view(published, utcnow())


def close_survey(survey_id: str, actor: str) -> dict[str, Any]:
    """Close now: no answer is taken after (an answer committing first still counts). Closing a
    closed survey again: 409 invalid_state."""
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> Survey:
        now = utcnow()
        survey = _survey_or_404(survey_id)
        if survey.status == rules_of.CLOSED:
            raise InvalidState("The survey is already closed")
        store.close(uow, survey, now)
        add_audit(uow, Change(actor, "survey.close", "survey", survey_id, {"status": survey.status}, {"status": "closed"}), rules, now)
        uow.commit()  # published meanwhile: read again
        survey.status, survey.closed_at = "closed", now
        return survey

    closed = run(attempt)
    logger.info("survey closed", extra={"survey_id": survey_id})
    return operator_view(closed, utcnow())


def survey_list(limit: int, cursor: str | None) -> dict[str, Any]:
    now = utcnow()
    return store.survey_page(limit, cursor).view(lambda s: operator_view(s, now))


def survey_with_results(survey_id: str) -> dict[str, Any]:
    """The survey and its results: counts per option, rating distribution and mean, responses.
    Free-text answers are counted here; their words are read apart (`free_text_answers`)."""
    survey = _survey_or_404(survey_id)
    responses, totals = store.tally_totals(survey_id)
    questions = rules_of.results(store.questions_of(survey), totals, responses)
    return {**operator_view(survey, utcnow()), "results": {"responses": responses, "questions": questions}}


def free_text_answers(survey_id: str, actor: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the survey's free-text answers, without who wrote them; the read is audited
    (who read which survey's answers, never the words)."""
    rules = load_rules()
    survey = _survey_or_404(survey_id)
    questions = {q["question_id"]: q["text"] for q in store.questions_of(survey) if q["kind"] == rules_of.FREE_TEXT}
    page = store.text_page(survey_id, limit, cursor)
    items = [
        {"question_id": qid, "question": questions.get(qid), "text": text, "answered_at": iso(entry.answered_at)}
        for entry in page.items
        for qid, text in sorted(store.texts_of(entry).items())
    ]
    record_audit(Change(actor, "survey.free_text.read", "survey", survey_id, None, {"responses_shown": len(page.items)}), rules, utcnow())
    return {"items": items, "next_cursor": page.next_cursor}


# --- members ----------------------------------------------------------------------------------


def _targets(survey: Survey, invited: bool) -> bool:
    return survey.target == "everyone" or invited


def my_surveys(session: MemberSession) -> dict[str, Any]:
    """GET /v1/me/surveys: the open surveys for the member (theirs to answer or answered
    already), soonest closing first."""
    now = utcnow()
    session.check()
    invited, responses = store.member_survey_items(session.member_id)
    shown = [
        s
        for s in store.published_surveys()
        if rules_of.state_at(s.status, s.opens_at, s.closes_at, now) == "open" and _targets(s, s.survey_id in invited)
    ]
    shown.sort(key=lambda s: s.closes_at)
    return {"items": [member_view(s, responses.get(s.survey_id), now) for s in shown], "next_cursor": None}


def _visible(survey: Survey | None, invited: bool, response: SurveyResponse | None, survey_id: str) -> Survey:
    # A draft, or a segment survey for someone outside its audience, does not exist for them.
    if survey is None or survey.status == rules_of.DRAFT or not (_targets(survey, invited) or response is not None):
        raise NotFound(f"No survey {survey_id}")
    return survey


def my_survey(session: MemberSession, survey_id: str) -> dict[str, Any]:
    survey, member, invitation, response = store.for_member(survey_id, session.member_id)
    session.admit(member)
    return member_view(_visible(survey, invitation is not None, response, survey_id), response, utcnow())


def answer_survey(session: MemberSession, survey_id: str, request: SurveyAnswersRequest) -> Answer:
    """201 with the response and the reward; 422 invalid_answers; 409 already_answered (one
    answer per member, however many race); 409 survey_not_open; 404 outside its audience."""
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        survey, member, invitation, response = store.for_member(survey_id, session.member_id)
        member = session.admit(member)
        survey = _visible(survey, invitation is not None, response, survey_id)
        if response is not None:
            raise AlreadyAnswered("You have already answered this survey")
        state = rules_of.state_at(survey.status, survey.opens_at, survey.closes_at, now)
        if state != "open":
            raise SurveyNotOpen("The survey is closed" if state == "closed" else "The survey is not open yet")
        questions = store.questions_of(survey)
        kept, problems = rules_of.check_answers(questions, request.answers)
        if problems:
            raise InvalidAnswers(problems)
        reward: dict[str, Any] = {}
        points = int(survey.reward_points or 0)
        balance = int(member.balance)
        if points or survey.reward_id:
            require_may_earn(member.status)
        if points:
            today = today_in(rules.zone, now)
            month = month_key(today)
            earned = earn(points_state(member), points, month, qualifying=False)
            balance = earned.balance
            update_member(uow, member, points_update(earned))
            uow.put("ledger", ledger_entry(member.member_id, "bonus", points, balance, f"{SURVEY_KIND}:{survey_id}", now, lot=month))
            open_lot(uow, member.member_id, month, lot_expires_on(month, rules.points_validity_months), held=member.lots)
            reward["points"] = points
        elif survey.reward_id:
            coupon = gift_coupon(member.member_id, SURVEY_KIND, survey.reward_id, rules, now)
            if coupon is not None:
                add_coupon(uow, coupon)
                reward["coupon_code"] = coupon.code
                reward["coupon_expires_at"] = iso(coupon.expires_at)
        store.add_response(uow, survey, member.member_id, kept, rules_of.counted(questions, kept), rules_of.free_texts(questions, kept), reward, now)

        def explain(cancelled: Cancelled) -> None:
            if "response" in cancelled.failed:
                raise AlreadyAnswered("You have already answered this survey")
            if "survey" in cancelled.failed:
                raise SurveyNotOpen("The survey is closed")
            # the member (their balance) or a coupon code changed meanwhile: read again

        uow.commit(explain)
        body = {
            "survey_id": survey_id,
            "answered_at": iso(now),
            "answers": kept,
            "reward": {
                "points": reward.get("points", 0),
                "coupon_code": reward.get("coupon_code"),
                "coupon_expires_at": reward.get("coupon_expires_at"),
            },
            "balance": balance,
        }
        return created(body)

    answer = run(attempt, one_at_a_time=member_turn(session.member_id))
    count("SurveyResponses")
    # Never the answers: free text is personal data.
    logger.info("survey answered", extra={"member_id": session.member_id, "survey_id": survey_id, "points": answer.body["reward"]["points"]})
    return answer


# --- the invitations job ----------------------------------------------------------------------


def _units(survey_id: str, manifest: audiences.Manifest) -> list[dict[str, Any]]:
    """One unit per part of the audience."""
    return [{"kind": "invite", "survey_id": survey_id, "audience_id": manifest.audience_id, "part": key} for key in manifest.parts]


def invite_part(survey_id: str, audience_id: str, part_key: str, *, dry_run: bool) -> tuple[int, int]:
    """Invite the members of one part of a survey's audience (a unit of `survey-invitations`):
    (members in the part, invitations written). Writing one again changes nothing, so a
    redelivered unit is harmless; a survey closed meanwhile invites nobody."""
    member_ids = audiences.part(part_key)
    survey = store.get_survey(survey_id)
    if survey is None or survey.status != rules_of.PUBLISHED or survey.audience_id != audience_id or dry_run:
        return len(member_ids), 0
    return len(member_ids), store.invite(survey_id, audience_id, member_ids)


def invitation_units() -> list[dict[str, Any]]:
    """Every unit of the published segment surveys still open: what `make job
    JOB=survey-invitations` (and its daily schedule) does again, in case a publication's units
    were lost before reaching the queue."""
    now = utcnow()
    units: list[dict[str, Any]] = []
    for survey in store.published_surveys():
        closed = rules_of.state_at(survey.status, survey.opens_at, survey.closes_at, now) == "closed"
        if survey.target != "segment" or not survey.audience_id or closed:
            continue
        manifest = audiences.read(str(survey.segment_id), survey.audience_id)
        if manifest is None:
            continue
        units += _units(survey.survey_id, manifest)
    return units
