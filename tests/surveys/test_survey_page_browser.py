"""The survey page in a real browser (Debian's Chromium through Playwright), on a phone-sized
screen: the whole 0-10 scale in view, taps, the keyboard alone, and JavaScript switched off."""

from __future__ import annotations

import itertools

import pytest

from surveys.models import OptOut, Response
from tests.surveys.browser import screenshot
from tests.surveys.page_support import page_url, sent_invitation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}


def only_our_server(page, live_server) -> None:
    strangers = [url for url in page.requested if not url.startswith(live_server.url)]
    assert strangers == [], f"requests to other servers: {strangers}"


def test_a_debtor_answers_9_on_a_phone_and_the_answer_rates_the_right_contact(
    live_server,
    page_factory,
) -> None:
    invitation = sent_invitation()
    link = live_server.url + page_url(invitation)
    page = page_factory(**PHONE)
    page.goto(link)
    screenshot(page, "survey-phone-1-score")

    # All eleven buttons inside the first screen, in reading order 0..10, each a 44 px target.
    boxes = [page.locator(f"label[for=nps-{n}]").bounding_box() for n in range(11)]
    for n, box in enumerate(boxes):
        assert box is not None, n
        assert box["width"] >= 44 and box["height"] >= 44, (n, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (n, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], (n, box)
    for n, (before, after) in enumerate(itertools.pairwise(boxes)):
        same_row = abs(after["y"] - before["y"]) < 1
        assert (same_row and after["x"] > before["x"]) or after["y"] >= (
            before["y"] + before["height"]
        ), f"{n + 1} does not follow {n}"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("input[name=nps]:checked").count() == 0
    assert page.get_by_text("0 = Per niente probabile").is_visible()
    # The scale wraps on a phone, so the end labels stack, both starting at the left edge.
    low = page.get_by_text("0 = Per niente probabile").bounding_box()
    high = page.get_by_text("10 = Estremamente probabile").bounding_box()
    assert low is not None and high is not None
    assert abs(high["x"] - low["x"]) < 1 and high["y"] > low["y"], (low, high)

    page.locator("label[for=nps-9]").click()
    assert page.locator("#nps-9").is_checked()
    page.get_by_role("button", name="Avanti").click()
    page.get_by_text("Domanda 2 di 4").wait_for()
    page.get_by_label("Qual è il motivo principale del suo voto?").fill(
        "Mi hanno ascoltato con pazienza"
    )
    screenshot(page, "survey-phone-2-reason")
    page.get_by_role("button", name="Avanti").click()
    page.get_by_text("Domanda 3 di 4").wait_for()
    page.get_by_role("button", name="Avanti").click()  # the extras are optional
    page.get_by_text("Domanda 4 di 4").wait_for()
    page.get_by_role("button", name="Invia").click()
    page.get_by_role("heading", name="Grazie!").wait_for()
    screenshot(page, "survey-phone-3-thanks")

    response = Response.objects.get()
    assert (response.score, response.reason) == (9, "Mi hanno ascoltato con pazienza")
    assert response.invitation_id == invitation.pk
    assert response.client_id == invitation.client_id
    assert response.operator_id == invitation.operator_id
    assert response.contact_id == invitation.contact_id
    assert response.channel == "web"
    assert response.complete is True

    # Back to the form in the history, or the SMS link again: already answered, nothing new.
    page.go_back()
    page.get_by_role("heading", name="Ha già risposto").wait_for()
    page.goto(link)
    page.get_by_role("heading", name="Ha già risposto").wait_for()
    page.reload()
    page.get_by_role("heading", name="Ha già risposto").wait_for()
    screenshot(page, "survey-phone-4-already-answered")
    assert Response.objects.count() == 1
    only_our_server(page, live_server)


def test_the_keyboard_alone_answers_the_survey_with_a_visible_focus_ring(
    live_server,
    page_factory,
) -> None:
    invitation = sent_invitation(language="es", phone="+34612345678")
    page = page_factory(**PHONE, locale="es-ES")
    page.goto(live_server.url + page_url(invitation))

    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "nps":
            break
    # The radio group is one tab stop; with nothing chosen, focus lands on 0.
    assert page.evaluate("document.activeElement.id") == "nps-0"
    ring = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement.nextElementSibling);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert ring[0] == "solid" and ring[1] >= 2, ring
    screenshot(page, "survey-keyboard-focus")

    for _ in range(9):
        page.keyboard.press("ArrowRight")
    assert page.locator("#nps-9").is_checked()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Siguiente"
    page.keyboard.press("Enter")
    page.get_by_text("Pregunta 2 de 4").wait_for()

    page.keyboard.press("Tab")
    while page.evaluate("document.activeElement.id") != "reason":
        page.keyboard.press("Tab")
    page.keyboard.type("Fueron amables")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.get_by_text("Pregunta 3 de 4").wait_for()

    while page.evaluate("document.activeElement.name") != "listened":
        page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert page.locator("#listened-1").is_checked()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.locator("#listened-4").is_checked()
    page.keyboard.press("Enter")  # Enter in a form field submits it
    page.get_by_text("Pregunta 4 de 4").wait_for()
    # Skip the last, optional question: Tab past it to "Enviar".
    while page.evaluate("document.activeElement.tagName") != "BUTTON":
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Enviar"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="¡Gracias!").wait_for()

    response = Response.objects.get()
    assert (response.score, response.reason, response.answers) == (
        9,
        "Fueron amables",
        {"listened": 4, "solution": None},  # skipped, but seen
    )
    assert response.language == "es"
    only_our_server(page, live_server)


def test_with_javascript_off_the_survey_the_language_switch_and_the_opt_out_all_work(
    live_server,
    page_factory,
) -> None:
    invitation = sent_invitation()
    link = live_server.url + page_url(invitation)
    page = page_factory(**PHONE, javascript=False)
    page.goto(link)
    page.get_by_role("link", name="English").click()
    page.get_by_text("Question 1 of 4").wait_for()
    page.locator("label[for=nps-3]").click()
    page.get_by_role("button", name="Next").click()
    page.get_by_text("Question 2 of 4").wait_for()
    page.get_by_role("link", name="Back").click()
    assert page.locator("#nps-3").is_checked()  # the way back shows the given answer
    page.locator("label[for=nps-4]").click()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("What is the main reason for your score?").fill("Quick call")
    page.get_by_role("button", name="Next").click()
    page.locator("label[for=listened-2]").click()
    page.get_by_role("button", name="Next").click()
    page.locator("label[for=solution-no]").click()
    page.get_by_role("button", name="Send").click()
    page.get_by_role("heading", name="Thank you!").wait_for()
    screenshot(page, "survey-no-javascript-thanks")

    response = Response.objects.get()
    assert (response.score, response.reason) == (4, "Quick call")
    assert response.answers == {"listened": 2, "solution": False}
    assert response.language == "en"

    page.get_by_role("link", name="Stop these messages").click()
    page.get_by_role("heading", name="Stop these messages?").wait_for()
    page.get_by_role("button", name="Yes, stop the messages").click()
    page.get_by_role("heading", name="Done").wait_for()
    assert OptOut.objects.filter(phone_e164=invitation.phone_e164, active=True).exists()
    only_our_server(page, live_server)
