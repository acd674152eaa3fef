"""The debtor's survey page, through Django's test client: one question per screen, answers kept
on the server, one response per invitation, kind pages for every dead end, nothing about the
debt, and an opt-out that a link previewer cannot trigger."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape

import pytest
from django.core.checks import run_checks
from django.test import Client

from surveys.definitions import DEFAULT_QUESTIONS, validate_questions
from surveys.models import (
    Invitation,
    InvitationStatus,
    OptOut,
    OptOutEvent,
    Response,
    ResponseChannel,
    Survey,
    SurveyVersion,
)
from surveys.page_text import TEXT
from surveys.responses import response_record
from surveys.views import _cached_screen, _can_finish, page_css
from tests.surveys.page_support import page_url, sent_invitation

pytestmark = pytest.mark.django_db

# What must never reach the page: a third party may be holding the phone (DOMAIN rule 6).
FORBIDDEN = re.compile(
    r"debt|debit|deud|credit|crédit|collection|recupero|cobr|pagament|payment|importo|"
    r"\bpago\b|€|\bEUR\b|acme|1234|giulia",
    re.IGNORECASE,
)
# BEGIN/COMMIT (or SAVEPOINT/RELEASE inside a test's transaction) that Django logs around the
# service's one atomic block; the budget counts the statements that read or write data.
CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO)\b")


def html(response) -> str:
    return response.content.decode()


def checked_values(response, name: str) -> list[str]:
    return re.findall(rf'name="{name}"[^>]*value="([^"]+)"[^>]*\schecked', html(response))


def answer_all(client: Client, url: str, *, score: str = "9") -> None:
    assert client.post(url, {"step": "1", "nps": score}).status_code == 303
    assert client.post(url, {"step": "2", "reason": "Mi hanno ascoltato"}).status_code == 303
    assert client.post(url, {"step": "3", "listened": "5"}).status_code == 303
    assert client.post(url, {"step": "4", "solution": "yes"}).status_code == 303


# --- the happy path ---------------------------------------------------------------------------


def test_a_debtor_answers_every_screen_and_the_response_rates_the_right_contact(client) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)

    first = client.get(url)
    assert first.status_code == 200
    page = html(first)
    assert '<html lang="it">' in page
    assert "Grazie per il tempo che ci ha dedicato" in page
    assert "Domanda 1 di 4" in page
    # The whole scale, in order, with nothing chosen for the debtor.
    assert re.findall(r'name="nps" id="nps-(\d+)"', page) == [str(n) for n in range(11)]
    assert checked_values(first, "nps") == []
    assert "0 = Per niente probabile" in page and "10 = Estremamente probabile" in page

    score = client.post(url, {"step": "1", "nps": "9"})
    assert score.status_code == 303
    assert score.headers["Location"] == f"{url}?step=2"
    reason_screen = client.get(score.headers["Location"])
    assert "Domanda 2 di 4" in html(reason_screen)
    assert "Qual è il motivo principale del suo voto?" in html(reason_screen)
    assert f'href="{url}?step=1"' in html(reason_screen)  # the way back

    assert client.post(url, {"step": "2", "reason": "Mi hanno ascoltato"})["Location"] == (
        f"{url}?step=3"
    )
    assert client.post(url, {"step": "3", "listened": "4"})["Location"] == f"{url}?step=4"
    done = client.post(url, {"step": "4", "solution": "yes"})
    assert done.status_code == 303
    assert done.headers["Location"] == f"{url}thanks/"

    response = Response.objects.get()
    assert response.invitation_id == invitation.pk
    assert response.client_id == invitation.client_id
    assert response.operator_id == invitation.operator_id
    assert response.contact_id == invitation.contact_id
    assert response.channel == "web"
    assert response.language == "it"
    assert (response.score, response.reason) == (9, "Mi hanno ascoltato")
    assert response.answers == {"listened": 4, "solution": True}
    assert response.complete is True
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.COMPLETED

    thanks = client.get(done.headers["Location"])
    assert thanks.status_code == 200
    assert "Grazie!" in html(thanks)
    assert "Abbiamo ricevuto le sue risposte" in html(thanks)
    # Opening the link again says so, kindly.
    again = client.get(url)
    assert again.status_code == 200
    assert "Ha già risposto" in html(again)
    assert 'name="nps"' not in html(again)


def test_the_thank_you_page_waits_for_a_complete_response(client) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    assert client.get(f"{url}thanks/")["Location"] == url
    client.post(url, {"step": "1", "nps": "3"})
    assert client.get(f"{url}thanks/")["Location"] == url


def test_a_spanish_debtor_reads_spanish_and_the_end_labels_in_spanish(client) -> None:
    invitation = sent_invitation(language="es", phone="+34612345678")
    page = html(client.get(page_url(invitation)))
    assert '<html lang="es">' in page
    assert "Pregunta 1 de 4" in page
    assert "0 = Nada probable" in page and "10 = Extremadamente probable" in page
    assert "¿qué probabilidad hay de que recomiende" in page
    assert "No quiero recibir más mensajes" in page


# --- partial answers, resuming, going back ------------------------------------------------------


def test_stopping_after_the_score_keeps_the_score_as_a_partial_response(client) -> None:
    invitation = sent_invitation()
    client.post(page_url(invitation), {"step": "1", "nps": "7"})
    # The debtor closes the page here.
    response = Response.objects.get(invitation=invitation)
    assert (response.score, response.complete) == (7, False)
    assert response.answered_at is not None
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PARTIAL
    # The second screen says the score already counts and the rest is optional.
    second = html(client.get(f"{page_url(invitation)}?step=2"))
    assert "Il suo voto è già registrato" in second
    assert "(facoltativa)" in second


def test_a_debtor_who_leaves_resumes_on_the_next_unanswered_screen_in_another_browser(
    client,
) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    client.post(url, {"step": "1", "nps": "8"})
    client.post(url, {"step": "2", "reason": "Cortesia"})

    later = Client()  # no cookies: the progress lives on the server
    page = html(later.get(url))
    assert "Domanda 3 di 4" in page
    assert 'name="step" value="3"' in page


def test_a_skipped_optional_question_is_not_asked_again_once_a_later_one_is_answered(
    client,
) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    client.post(url, {"step": "1", "nps": "6"})
    client.post(url, {"step": "2", "reason": ""})
    client.post(url, {"step": "3", "listened": "2"})
    assert "Domanda 4 di 4" in html(Client().get(url))


def test_going_back_shows_the_given_answer_and_changing_it_replaces_it(client) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    client.post(url, {"step": "1", "nps": "9"})
    client.post(url, {"step": "2", "reason": "Gentili"})

    back_to_score = client.get(f"{url}?step=1")
    assert checked_values(back_to_score, "nps") == ["9"]
    back_to_reason = client.get(f"{url}?step=2")
    assert ">Gentili</textarea>" in html(back_to_reason)

    client.post(url, {"step": "1", "nps": "6"})
    response = Response.objects.get()
    assert (response.score, response.reason, response.complete) == (6, "Gentili", False)


def test_no_screen_after_the_score_is_shown_or_stored_before_the_score(client) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    assert "Domanda 1 di 4" in html(client.get(f"{url}?step=3"))
    skipped = client.post(url, {"step": "3", "listened": "5"})
    assert skipped.status_code == 303 and skipped.headers["Location"] == url
    assert not Response.objects.exists()


# --- validation -------------------------------------------------------------------------------


def test_sending_the_score_screen_without_a_score_asks_again_in_the_debtors_language(
    client,
) -> None:
    invitation = sent_invitation()
    empty = client.post(page_url(invitation), {"step": "1"})
    assert empty.status_code == 200
    assert "Scelga un numero da 0 a 10." in html(empty)
    assert 'role="alert"' in html(empty)
    assert "<title>Attenzione:" in html(empty)
    outside = client.post(page_url(invitation), {"step": "1", "nps": "11"})
    assert "Scelga una delle risposte proposte." in html(outside)
    assert not Response.objects.exists()


def test_a_reason_over_2000_characters_is_refused_with_a_message(client) -> None:
    invitation = sent_invitation(language="en", phone="+14155550100")
    url = page_url(invitation)
    client.post(url, {"step": "1", "nps": "5"})
    too_long = client.post(url, {"step": "2", "reason": "x" * 2001})
    assert "Please write at most 2000 characters." in html(too_long)
    assert Response.objects.get().reason == ""


def test_a_clients_choice_question_shows_its_labels_and_stores_the_value(client) -> None:
    questions = validate_questions(
        [
            *DEFAULT_QUESTIONS[:2],
            {
                "key": "best_time",
                "kind": "choice",
                "required": False,
                "text": {
                    "it": "Quando preferisce essere chiamato?",
                    "es": "¿Cuándo prefiere que le llamemos?",
                    "en": "When do you prefer to be called?",
                },
                "choices": [
                    {"value": "morning", "label": {"it": "Mattina", "es": "Mañana", "en": "AM"}},
                    {"value": "evening", "label": {"it": "Sera", "es": "Tarde", "en": "PM"}},
                ],
            },
        ]
    )
    invitation = sent_invitation()
    survey = Survey.objects.create(client=invitation.client, name="Acme survey")
    invitation.survey_version = SurveyVersion.objects.create(
        survey=survey, number=1, questions=questions
    )
    invitation.save()
    url = page_url(invitation)
    client.post(url, {"step": "1", "nps": "10"})
    client.post(url, {"step": "2", "reason": ""})
    screen = html(client.get(f"{url}?step=3"))
    assert "Domanda 3 di 3" in screen
    assert ">Mattina<" in screen and ">Sera<" in screen
    assert ">Invia<" in screen  # the last screen sends
    assert "Scelga una delle risposte proposte." in html(
        client.post(url, {"step": "3", "best_time": "night"})
    )
    assert client.post(url, {"step": "3", "best_time": "evening"})["Location"] == f"{url}thanks/"
    response = Response.objects.get()
    assert response.answers == {"best_time": "evening"}
    assert response.complete is True


# --- one invitation, one response ---------------------------------------------------------------


def test_a_second_submit_is_told_already_answered_and_changes_nothing(client) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    answer_all(client, url)
    completed_at = Response.objects.get().completed_at

    again = client.post(url, {"step": "4", "solution": "no"})
    assert again.status_code == 409
    assert "Ha già risposto" in html(again)
    rescored = client.post(url, {"step": "1", "nps": "0"})
    assert rescored.status_code == 409
    response = Response.objects.get()
    assert (response.score, response.answers["solution"]) == (9, True)
    assert response.completed_at == completed_at


def test_a_second_tab_left_open_cannot_change_a_finished_response() -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    tab_a, tab_b = Client(), Client()
    answer_all(tab_a, url, score="3")
    late = tab_b.post(url, {"step": "2", "reason": "scritto nell'altra scheda"})
    assert late.status_code == 409
    assert "Ha già risposto" in html(late)
    assert Response.objects.count() == 1
    assert Response.objects.get().reason == "Mi hanno ascoltato"


# --- dead ends get kind pages -----------------------------------------------------------------


def test_an_unknown_link_gets_a_kind_404_page_in_the_browsers_language(client) -> None:
    missing = client.get("/s/AAAAAAAAAAAAAAAAAAAAAA/", HTTP_ACCEPT_LANGUAGE="es")
    assert missing.status_code == 404
    assert "Enlace no encontrado" in html(missing)
    assert "No tiene que hacer nada." in html(missing)
    assert "not found on this server" not in html(missing)
    italian = client.get("/s/AAAAAAAAAAAAAAAAAAAAAA/?lang=it")
    assert "Link non trovato" in html(italian)
    # No Accept-Language at all: the page's own default, Italian.
    assert "Link non trovato" in html(client.get("/s/AAAAAAAAAAAAAAAAAAAAAA/"))
    english = client.get("/s/AAAAAAAAAAAAAAAAAAAAAA/", HTTP_ACCEPT_LANGUAGE="en-GB")
    assert "Link not found" in html(english)


def test_a_malformed_token_is_refused_without_touching_the_database(
    client, django_assert_num_queries
) -> None:
    with django_assert_num_queries(0):
        response = client.get("/s/not%20a%20token!/")
    assert response.status_code == 404
    assert "Link non trovato" in html(response)  # no Accept-Language: the page's Italian


def test_an_expired_link_gets_a_kind_page_and_stores_nothing(client) -> None:
    invitation = sent_invitation(expires_in=-dt.timedelta(hours=1))
    url = page_url(invitation)
    page = client.get(url)
    assert page.status_code == 410
    assert "Il link è scaduto" in html(page)
    assert "Grazie comunque per il suo tempo." in html(page)
    assert client.post(url, {"step": "1", "nps": "9"}).status_code == 410
    assert not Response.objects.exists()


def test_an_expired_link_with_a_score_says_the_score_was_kept(client) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    client.post(url, {"step": "1", "nps": "4"})
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=invitation.expires_at - dt.timedelta(days=8)
    )
    page = client.get(url)
    assert page.status_code == 410
    assert "Il voto che ci ha dato è stato registrato" in html(page)
    assert Response.objects.get().score == 4


@pytest.mark.parametrize(
    ("status", "heading"),
    [
        (InvitationStatus.EXPIRED, "Il link è scaduto"),
        (InvitationStatus.CANCELLED, "Sondaggio non disponibile"),
        (InvitationStatus.FAILED, "Sondaggio non disponibile"),
    ],
)
def test_a_closed_invitation_gets_a_kind_page(client, status: str, heading: str) -> None:
    invitation = sent_invitation(status=status)
    page = client.get(page_url(invitation))
    assert page.status_code == 410
    assert heading in html(page)
    assert client.post(page_url(invitation), {"step": "1", "nps": "9"}).status_code == 410
    assert not Response.objects.exists()


def test_a_cati_invitation_can_still_be_answered_on_the_web(client) -> None:
    invitation = sent_invitation(status=InvitationStatus.CATI, channel="cati")
    answer_all(client, page_url(invitation))
    assert Response.objects.get().complete is True


def test_a_score_sent_by_sms_reply_keeps_its_channel_when_the_page_adds_the_reason(client) -> None:
    invitation = sent_invitation()
    response_record(
        invitation_id=invitation.pk, channel=ResponseChannel.SMS_REPLY, answers={"nps": "7"}
    )
    url = page_url(invitation)
    resumed = client.get(url)
    assert "Domanda 2 di 4" in html(resumed)  # the score is in: the page resumes after it
    assert client.post(url, {"step": "2", "reason": "Cortesi"}).status_code == 303
    assert client.post(url, {"step": "3", "listened": "4"}).status_code == 303
    response = Response.objects.get()
    assert (response.score, response.reason, response.channel) == (
        7,
        "Cortesi",
        ResponseChannel.SMS_REPLY,
    )
    # Changing the score on the page makes it a score given on the web.
    assert client.post(url, {"step": "1", "nps": "9"}).status_code == 303
    response.refresh_from_db()
    assert (response.score, response.channel) == (9, ResponseChannel.WEB)


def test_every_question_screen_has_the_question_as_its_heading(client) -> None:
    """Screen-reader users jump by heading; the browser's own "required" bubble would speak the
    phone's language, so the form leaves checking to the page, which speaks the debtor's."""
    invitation = sent_invitation()
    url = page_url(invitation)
    first = html(client.get(url))
    assert re.search(r"<legend><h1 class=\"q\">[^<]*probabile", first)
    assert re.search(r"<form [^>]*novalidate", first)
    client.post(url, {"step": "1", "nps": "9"})
    second = html(client.get(f"{url}?step=2"))
    assert re.search(r'<h1 class="q"><label class="qlabel" for="reason">', second)
    assert len(re.findall(r"<h1\b", first)) == len(re.findall(r"<h1\b", second)) == 1


def test_the_privacy_notice_says_who_sees_the_answers_and_whom_to_ask(client, settings) -> None:
    settings.PRIVACY_CONTROLLER = "Agenzia Esempio S.r.l."
    settings.PRIVACY_CONTACT = "privacy@agenzia.example"
    _cached_screen.cache_clear()
    page = unescape(html(client.get(page_url(sent_invitation()))))
    assert "Risposte e commenti vanno all'azienda per conto della quale" in page
    assert "dopo un voto basso potremmo richiamarla" in page
    assert "riservate" not in page  # the old promise the product could not keep
    assert "Titolare del trattamento: Agenzia Esempio S.r.l." in page
    assert "od opporsi al trattamento: privacy@agenzia.example." in page

    settings.PRIVACY_CONTROLLER = settings.PRIVACY_CONTACT = ""
    _cached_screen.cache_clear()
    page = html(client.get(page_url(sent_invitation(phone="+393339876543"))))
    assert "Titolare del trattamento" not in page
    warnings = [m.id for m in run_checks(include_deployment_checks=True)]
    assert "surveys.W001" in warnings


def test_after_the_score_a_debtor_may_finish_here_and_reach_the_thanks(client) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    assert 'name="finish"' not in html(client.get(url))  # not before the score
    client.post(url, {"step": "1", "nps": "6"})
    second = html(client.get(f"{url}?step=2"))
    assert '<button type="submit" name="finish" value="1" class="secondary">Termina qui' in second
    done = client.post(url, {"step": "2", "reason": "Troppo insistenti", "finish": "1"})
    assert done.status_code == 303 and done["Location"] == f"{url}thanks/"
    response = Response.objects.get()
    assert (response.score, response.reason, response.complete) == (6, "Troppo insistenti", True)
    assert response.answers == {}  # the extras were never asked
    assert "Grazie" in html(client.get(f"{url}thanks/"))


def test_finish_here_is_not_offered_on_the_last_screen_nor_honoured_before_the_score(
    client,
) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    client.post(url, {"step": "1", "nps": "9"})
    assert 'name="finish"' not in html(client.get(f"{url}?step=4"))  # "Invia" ends it anyway
    # A forged "finish" on a screen that may not finish records the step only.
    client.post(url, {"step": "1", "nps": "9", "finish": "1"})
    assert Response.objects.get().complete is False


def test_finish_here_waits_while_a_later_question_is_required() -> None:
    questions = [dict(q) for q in DEFAULT_QUESTIONS]
    assert _can_finish(questions, 2) and _can_finish(questions, 3)
    assert not _can_finish(questions, 1) and not _can_finish(questions, 4)
    questions[3] = {**questions[3], "required": True}
    assert not _can_finish(questions, 2) and not _can_finish(questions, 3)


# --- language ---------------------------------------------------------------------------------


def test_the_language_switcher_changes_the_text_and_sticks_to_the_invitation(client) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    italian = html(client.get(url))
    assert 'href="?lang=es&amp;step=1"' in italian

    spanish = client.get(f"{url}?lang=es")
    assert "Pregunta 1 de 4" in html(spanish)
    assert '<html lang="es">' in html(spanish)
    invitation.refresh_from_db()
    assert invitation.language == "es"

    fresh = Client()  # nothing in cookies: the choice is on the invitation
    assert "Pregunta 1 de 4" in html(fresh.get(url))
    fresh.post(url, {"step": "1", "nps": "10"})
    assert Response.objects.get().language == "es"
    assert not client.cookies
    assert not fresh.cookies


def test_every_page_says_its_own_language_in_the_header_too(client) -> None:
    """Content-Language names the language the page is written in, not the site's default."""
    invitation = sent_invitation(language="it")
    url = page_url(invitation)
    assert client.get(url)["Content-Language"] == "it"
    assert client.get(f"{url}?lang=es")["Content-Language"] == "es"
    stop = f"/s/{invitation.token}/stop/"
    assert client.get(stop)["Content-Language"] == "es"  # the choice stuck to the invitation
    missing = client.get("/s/AAAAAAAAAAAAAAAAAAAAAA/", HTTP_ACCEPT_LANGUAGE="it")
    assert missing["Content-Language"] == "it"
    answer_all(client, url)
    thanks = client.get(f"/s/{invitation.token}/thanks/?lang=en")
    assert thanks.status_code == 200
    assert thanks["Content-Language"] == "en"
    answered = client.get(url)  # "already answered", in the invitation's language
    assert answered["Content-Language"] == "es"
    assert '<html lang="es">' in html(answered)


def test_every_page_text_exists_in_every_language_and_says_nothing_about_money() -> None:
    keys = set(TEXT["it"])
    for language, texts in TEXT.items():
        assert set(texts) == keys, f"{language} lacks {keys - set(texts)}"
        for key, value in texts.items():
            assert value.strip(), f"{language}.{key} is empty"
            assert not FORBIDDEN.search(value), f"{language}.{key}: {value}"


# --- nothing about the debt, nothing from elsewhere, small ---------------------------------------


def every_page(client: Client, invitation: Invitation) -> list:
    url = page_url(invitation)
    pages = [client.get(url), client.get(f"{url}stop/")]
    client.post(url, {"step": "1", "nps": "2"})
    pages += [client.get(f"{url}?step={n}") for n in (2, 3, 4)]
    answer_all(client, url)
    pages += [client.get(f"{url}thanks/"), client.get(url)]
    return pages


@pytest.mark.parametrize("language", ["it", "es", "en"])
def test_no_page_shows_the_amount_the_creditor_or_a_word_about_debt(client, language) -> None:
    invitation = sent_invitation(language=language)
    account = invitation.contact.account
    account.amount_placed = Decimal("1234.56")
    account.save()
    for page in every_page(client, invitation):
        text = html(page).replace(page_css(), "")
        assert not FORBIDDEN.search(text), FORBIDDEN.search(text)
        assert invitation.client.name not in text


def test_the_pages_load_nothing_from_anywhere_and_weigh_under_30_kb(client) -> None:
    invitation = sent_invitation()
    pages = every_page(client, invitation)
    pages.append(client.get("/s/AAAAAAAAAAAAAAAAAAAAAA/"))
    for page in pages:
        text = html(page)
        assert not re.search(r"https?://|//[a-z]", text, re.IGNORECASE)
        # No stylesheet, script, image, font or frame to fetch: the CSS is inlined.
        assert not re.search(r"<(link|script|img|iframe|object|embed)\b|src=|url\(", text)
        assert page_css() in text
        assert len(page.content) < 30 * 1024, len(page.content)
    assert len(page_css()) > 1000  # the stylesheet really is there


# --- opt-out ----------------------------------------------------------------------------------


def test_the_opt_out_link_asks_first_and_a_get_never_opts_out(client) -> None:
    invitation = sent_invitation()
    stop_url = f"{page_url(invitation)}stop/"
    assert f'href="{stop_url}"' in html(client.get(page_url(invitation)))

    confirm = client.get(stop_url)
    assert confirm.status_code == 200
    assert "Non vuole più ricevere questi messaggi?" in html(confirm)
    assert client.head(stop_url).status_code == 200
    assert client.get(f"{stop_url}?done=1").status_code == 200  # a guessed "done" changes nothing
    assert "Fatto" not in html(client.get(f"{stop_url}?done=1"))
    assert not OptOut.objects.exists()

    done = client.post(stop_url)
    assert done.status_code == 303
    opt_out = OptOut.objects.get(phone_e164=invitation.phone_e164)
    assert opt_out.active is True
    event = OptOutEvent.objects.get(opt_out=opt_out)
    assert (event.opted_out, event.source) == (True, OptOutEvent.Source.WEB)
    assert "Non riceverà più richieste" in html(client.get(done.headers["Location"]))
    # Once out, the page says so in any language and never asks again.
    for lang, done_text in (("en", "You will not receive"), ("es", "No recibirá más")):
        again = html(client.get(f"{stop_url}?lang={lang}"))
        assert done_text in again
        assert "<form" not in again
    assert OptOutEvent.objects.filter(opt_out=opt_out).count() == 1


def test_a_debtor_can_opt_out_from_an_expired_link(client) -> None:
    invitation = sent_invitation(expires_in=-dt.timedelta(days=1))
    client.post(f"{page_url(invitation)}stop/")
    assert OptOut.objects.filter(phone_e164=invitation.phone_e164, active=True).exists()


# --- cookies and CSRF -------------------------------------------------------------------------


def test_a_phone_that_refuses_cookies_can_answer_and_opt_out() -> None:
    # The link's token is the only credential: the pages set no cookie and ask for none, so
    # an in-app browser that drops cookies (and enforces nothing else) answers like any other.
    invitation = sent_invitation()
    url = page_url(invitation)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(url)
    assert page.status_code == 200
    assert "Set-Cookie" not in page.headers
    assert "Cookie" not in page.headers.get("Vary", "")
    assert "csrfmiddlewaretoken" not in html(page)

    answered = browser.post(url, {"step": "1", "nps": "9"})
    assert answered.status_code == 303
    assert not browser.cookies
    assert Response.objects.get().score == 9

    stop = browser.get(f"{url}stop/")
    assert "Set-Cookie" not in stop.headers
    assert browser.post(f"{url}stop/").status_code == 303
    assert OptOut.objects.filter(phone_e164=invitation.phone_e164, active=True).exists()


def test_no_browser_or_proxy_keeps_a_copy_of_the_pages(client) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    for response in (
        client.get(url),
        client.post(url, {"step": "1", "nps": "9"}),
        client.get(f"{url}?step=2"),
        client.get(f"{url}stop/"),
        client.get("/s/unknown-token-0000000/"),
    ):
        assert "no-store" in response.headers["Cache-Control"], response
        assert "private" in response.headers["Cache-Control"], response


def test_staff_pages_still_need_the_csrf_token() -> None:
    staff = Client(enforce_csrf_checks=True).post("/login/", {"username": "x"})
    assert staff.status_code == 403


# --- what a visit records, and what it costs ------------------------------------------------------


def test_each_link_gets_its_own_token_in_a_shared_screen() -> None:
    # Screens are rendered once and shared: what is per link and per visit must still be.
    first = sent_invitation()
    second = sent_invitation(phone="+393339999999")
    page_one = Client().get(page_url(first))
    page_two = Client().get(page_url(second))
    for page, own, other in ((page_one, first, second), (page_two, second, first)):
        text = html(page)
        assert f'action="/s/{own.token}/"' in text
        assert f'href="/s/{own.token}/stop/"' in text
        assert other.token not in text
        assert "__survey_page" not in text


def test_the_first_opening_is_recorded_once_and_a_head_request_records_nothing(client) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    assert client.head(url).status_code == 200
    invitation.refresh_from_db()
    assert invitation.opened_at is None
    client.get(url)
    invitation.refresh_from_db()
    opened = invitation.opened_at
    assert opened is not None
    client.get(url)
    invitation.refresh_from_db()
    assert invitation.opened_at == opened


def test_a_get_costs_at_most_three_queries(client, django_assert_max_num_queries) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    with django_assert_max_num_queries(3):
        assert client.get(f"{url}?lang=es").status_code == 200  # first open + language
    with django_assert_max_num_queries(3):
        assert client.get(url).status_code == 200
    client.post(url, {"step": "1", "nps": "9"})
    with django_assert_max_num_queries(3):
        assert client.get(f"{url}?step=2").status_code == 200


def test_every_post_costs_at_most_five_data_queries(client, django_assert_max_num_queries) -> None:
    invitation = sent_invitation()
    url = page_url(invitation)
    steps = [
        {"step": "1", "nps": "9"},
        {"step": "2", "reason": "Gentili"},
        {"step": "3", "listened": "5"},
        {"step": "4", "solution": "no"},  # completes: the invitation and response both change
    ]
    for data in steps:
        # Five statements that read or write, plus the service's one transaction boundary.
        with django_assert_max_num_queries(5 + 2) as captured:
            assert client.post(url, data).status_code == 303
        sql = [q["sql"] for q in captured.captured_queries]
        assert len([s for s in sql if not CONTROL.match(s)]) <= 5, sql
        assert len([s for s in sql if CONTROL.match(s)]) <= 2, sql
    assert Response.objects.get().complete is True
