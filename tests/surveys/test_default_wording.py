"""The wording the product ships: SMS texts that fit one GSM-7 message and say how to stop them,
and an installation made before the wording changed gets it without losing an edited text."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from surveys.definitions import DEFAULT_QUESTIONS
from surveys.models import SmsTemplate, Survey, SurveyVersion
from surveys.seed import DEFAULT_SURVEY_NAME, DEFAULT_TEMPLATES
from surveys.templates_check import example_link, template_problems

pytestmark = pytest.mark.django_db

wording = importlib.import_module("surveys.migrations.0006_kinder_default_wording")
STOP_LINES = {"it": "Risponda STOP", "es": "Responda BAJA", "en": "Reply STOP"}


@pytest.mark.parametrize("base", ["http://127.0.0.1:8000", "https://sondaggi.agenzia-esempio.it"])
def test_every_shipped_text_passes_its_own_check_with_a_long_public_address(
    settings, base: str
) -> None:
    settings.PUBLIC_BASE_URL = base
    assert len(example_link()) <= 61
    for (kind, language), body in DEFAULT_TEMPLATES.items():
        assert template_problems(body=body, language=language, kind=kind) == [], (kind, language)
        if kind != "confirmation":
            assert STOP_LINES[language] in body  # says what to do, not just the keyword
            assert body.startswith(("Grazie", "¡Gracias", "Thanks"))  # thanks first


def test_an_old_installation_gets_the_new_wording_and_keeps_what_an_admin_edited() -> None:
    for (kind, language), old in wording.OLD_TEMPLATES.items():
        SmsTemplate.objects.update_or_create(
            client=None, kind=kind, language=language, defaults={"body": old}
        )
    edited = "Grazie davvero. {link} Risponda STOP per non ricevere SMS"
    SmsTemplate.objects.filter(client=None, kind="reminder", language="it").update(body=edited)
    survey, _ = Survey.objects.get_or_create(client=None, name=DEFAULT_SURVEY_NAME)
    survey.versions.all().delete()
    SurveyVersion.objects.create(survey=survey, number=1, questions=wording.OLD_QUESTIONS)

    wording.forward(apps, None)

    bodies = {(t.kind, t.language): t.body for t in SmsTemplate.objects.filter(client=None)}
    assert (
        bodies[("confirmation", "es")]
        == "Ya no le enviaremos SMS. Responda ALTA para volver a recibirlos."
    )
    assert bodies[("invitation", "it")] == DEFAULT_TEMPLATES[("invitation", "it")]
    assert bodies[("reminder", "it")] == edited
    versions = list(survey.versions.order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].questions == wording.OLD_QUESTIONS  # answers keep what they answered
    assert versions[1].questions == DEFAULT_QUESTIONS
    assert (
        survey.current_version()
        .questions[0]["text"]["it"]
        .endswith("che consigli il nostro modo di lavorare a un amico o a un familiare?")
    )

    wording.forward(apps, None)  # a second run changes nothing
    assert survey.versions.count() == 2
