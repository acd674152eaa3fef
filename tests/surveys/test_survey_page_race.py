"""One invitation, one response, when submits really collide: threads released together by a
barrier, each with its own connection to a real PostgreSQL, where the row lock is real."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from surveys.models import InvitationStatus, Response, ResponseChannel, Survey, SurveyVersion
from surveys.responses import AlreadyAnswered, response_record, response_start
from tests.surveys.page_support import default_version, page_url, sent_invitation

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at_once(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions in threads released at the same instant; return each one's result, or
    the exception it raised."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(index: int, action: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = action()
        except Exception as exc:  # handed back to the test, which asserts on it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def post(url: str, data: dict[str, str]) -> Callable[[], int]:
    def send() -> int:
        return Client().post(url, data).status_code

    return send


def test_two_tabs_sending_the_score_at_the_same_moment_make_one_response() -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    statuses = at_once(post(url, {"step": "1", "nps": "9"}), post(url, {"step": "1", "nps": "8"}))
    assert statuses == [303, 303]  # the second tab changed the same partial response
    response = Response.objects.get()
    assert response.invitation_id == invitation.pk
    assert response.score in {8, 9}
    assert response.complete is False


def test_two_final_submits_at_the_same_moment_store_one_response_and_one_is_told() -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    first = Client()
    first.post(url, {"step": "1", "nps": "9"})
    first.post(url, {"step": "2", "reason": "Cortesi"})
    first.post(url, {"step": "3", "listened": "5"})

    statuses = at_once(
        post(url, {"step": "4", "solution": "yes"}), post(url, {"step": "4", "solution": "no"})
    )
    assert sorted(statuses) == [303, 409]
    response = Response.objects.get()
    assert response.complete is True
    winner = statuses.index(303)
    assert response.answers["solution"] is (winner == 0)


def test_the_web_page_and_an_sms_reply_racing_make_one_response() -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    browser = Client()
    browser.post(url, {"step": "1", "nps": "9"})
    browser.post(url, {"step": "2", "reason": ""})
    browser.post(url, {"step": "3", "listened": "4"})

    def sms_reply() -> Any:
        return response_record(
            invitation_id=invitation.pk,
            channel=ResponseChannel.SMS_REPLY,
            answers={"nps": "3"},
            complete=True,
        )

    web, sms = at_once(post(url, {"step": "4", "solution": "yes"}), sms_reply)
    assert Response.objects.count() == 1
    response = Response.objects.get()
    assert response.complete is True
    if web == 303:
        # The page finished first; the SMS reply found it answered and stored nothing.
        assert isinstance(sms, AlreadyAnswered)
        assert (response.channel, response.score) == ("web", 9)
    else:
        # The SMS reply finished first; the page said "already answered".
        assert web == 409
        assert not isinstance(sms, Exception), sms
        assert (response.channel, response.score) == ("sms_reply", 3)


# --- the first score in one statement (`response_start`) ---------------------------------------


def test_the_first_score_makes_the_same_record_as_the_general_path() -> None:
    fast = sent_invitation()
    slow = sent_invitation(phone="+393339999999")
    moment = timezone.now()
    assert response_start(token=fast.token, channel=ResponseChannel.WEB, score=9, now=moment)
    response_record(
        invitation_id=slow.pk,
        channel=ResponseChannel.WEB,
        answers={"nps": "9"},
        now=moment,
    )
    made, expected = (Response.objects.get(invitation=i) for i in (fast, slow))
    fields = [f.attname for f in Response._meta.concrete_fields]
    different = {"id", "invitation_id", "client_id", "operator_id", "contact_id", "updated_at"}
    for name in fields:
        if name not in different:
            assert getattr(made, name) == getattr(expected, name), name
    assert (made.client_id, made.operator_id, made.contact_id) == (
        fast.client_id,
        fast.operator_id,
        fast.contact_id,
    )
    assert made.updated_at == moment
    for invitation in (fast, slow):
        invitation.refresh_from_db()
        assert (invitation.status, invitation.answered_at) == (InvitationStatus.PARTIAL, moment)


@pytest.mark.parametrize(
    ("status", "expires_in"),
    [
        (InvitationStatus.SENT, -dt.timedelta(minutes=1)),  # expired
        (InvitationStatus.CANCELLED, dt.timedelta(days=1)),  # closed
        (InvitationStatus.COMPLETED, dt.timedelta(days=1)),
        (InvitationStatus.SENDING, dt.timedelta(days=1)),  # not answerable yet, as is_answerable
    ],
)
def test_the_first_score_in_one_statement_declines_what_the_general_path_refuses(
    status: str, expires_in: dt.timedelta
) -> None:
    invitation = sent_invitation(status=status, expires_in=expires_in)
    assert not invitation.is_answerable()
    assert not response_start(token=invitation.token, channel=ResponseChannel.WEB, score=9)
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status == status


def test_the_first_score_in_one_statement_never_touches_an_existing_response() -> None:
    invitation = sent_invitation()
    response_record(invitation_id=invitation.pk, channel=ResponseChannel.CATI, answers={"nps": 4})
    assert not response_start(token=invitation.token, channel=ResponseChannel.WEB, score=9)
    response = Response.objects.get()
    assert (response.channel, response.score) == (ResponseChannel.CATI, 4)


def test_many_first_scores_at_once_make_one_response() -> None:
    invitation = sent_invitation()

    def start(score: int) -> Callable[[], bool]:
        return lambda: response_start(
            token=invitation.token, channel=ResponseChannel.WEB, score=score
        )

    results = at_once(*(start(score) for score in range(6)))
    assert results.count(True) == 1, results
    assert results.count(False) == 5, results
    assert Response.objects.get().score == results.index(True)


def test_a_survey_that_ends_with_the_score_is_completed_the_general_way() -> None:
    # One question: the score completes the response, which the one-statement start never
    # does; the page falls back to `response_record` and the debtor lands on the thanks page.
    invitation = sent_invitation()
    survey = Survey.objects.create(client=invitation.client, name="Score only")
    only_score = [q for q in default_version().questions if q["key"] == "nps"]
    invitation.survey_version = SurveyVersion.objects.create(
        survey=survey, number=1, questions=only_score
    )
    invitation.save()
    assert not response_start(token=invitation.token, channel=ResponseChannel.WEB, score=9)
    assert not Response.objects.exists()
    url = page_url(invitation)
    assert Client().post(url, {"step": "1", "nps": "9"})["Location"] == f"{url}thanks/"
    response = Response.objects.get()
    assert (response.score, response.complete) == (9, True)


def test_the_page_stores_the_first_score_once_and_moves_on() -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    browser = Client()
    first = browser.post(url, {"step": "1", "nps": "9"})
    assert (first.status_code, first["Location"]) == (303, f"{url}?step=2")
    # The same screen sent again (a back button, a double tap) changes the partial answer.
    again = browser.post(url, {"step": "1", "nps": "7"})
    assert (again.status_code, again["Location"]) == (303, f"{url}?step=2")
    assert Response.objects.get().score == 7
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PARTIAL
    # Not a score: the general way says so, and nothing changes.
    refused = browser.post(url, {"step": "1", "nps": "11"})
    assert refused.status_code == 200
    assert Response.objects.get().score == 7
