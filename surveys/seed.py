"""The data the product ships with: the default survey, the default SMS texts, the CATI
dispositions and the default policy. A data migration loads them; the ensure functions
recreate what an administrator deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from surveys.definitions import DEFAULT_QUESTIONS

DEFAULT_SURVEY_NAME = "Default satisfaction survey"

# Every text fits one GSM-7 segment with a real link (checked by the template validator and a
# test), with room for a public base URL of up to about 35 characters: Spanish avoids á í ó ú,
# which are not GSM-7 and would cut the limit to 70 (é, ñ, ¿ and ¡ are GSM-7).
DEFAULT_TEMPLATES: dict[tuple[str, str], str] = {
    # Thanks first; the opt-out line says what to do, in the debtor's language. One GSM-7 SMS
    # with links up to 61 characters (a public address of about 37).
    ("invitation", "it"): "Grazie! Com'è andata? Risponda con un voto 0-10 o apra {link} Risponda "
    "STOP per non ricevere SMS",
    ("invitation", "es"): "¡Gracias! ¿Qué tal fue? Responda con una nota 0-10 o abra {link} "
    "Responda BAJA para no recibir SMS",
    ("invitation", "en"): "Thanks for your time. How did we do? Reply with a score 0-10 or open "
    "{link} Reply STOP to opt out",
    ("reminder", "it"): "Grazie ancora! Com'è andata? Risponda con un voto 0-10 o apra {link} "
    "Risponda STOP per non ricevere SMS",
    ("reminder", "es"): "¡Gracias de nuevo! ¿Qué tal fue? Responda 0-10 o abra {link} "
    "Responda BAJA para no recibir SMS",
    ("reminder", "en"): "Thanks again for your time. How did we do? Reply with a score 0-10 or "
    "open {link} Reply STOP to opt out",
    ("confirmation", "it"): "Non riceverà altri SMS da noi. Risponda START per riattivarli.",
    # No accents: á, í, ó and ú are not GSM-7 (a misspelled word reads worse than none).
    ("confirmation", "es"): "Ya no le enviaremos SMS. Responda ALTA para volver a recibirlos.",
    ("confirmation", "en"): "You will get no more texts from us. Reply START to opt back in.",
}

_MIN = dt.timedelta(minutes=1)

# AAPOR Standard Definitions (10th ed.) codes; delays per ../reference/domain.md 3.3.
DEFAULT_DISPOSITIONS: list[dict[str, Any]] = [
    {
        "code": "complete",
        "label": "Complete",
        "aapor_code": "1.1",
        "aapor_class": "I",
        "final": True,
        "conversation": True,
        "shortcut": "c",
    },
    {
        "code": "partial",
        "label": "Partial (score given, then stopped)",
        "aapor_code": "1.2",
        "aapor_class": "P",
        "final": True,
        "conversation": True,
        "shortcut": "p",
    },
    {
        "code": "refusal",
        "label": "Refusal (soft: try again in a week)",
        "aapor_code": "2.112a",
        "aapor_class": "R",
        "retry_after": 7 * 24 * 60 * _MIN,
        "conversation": True,
        "shortcut": "r",
    },
    {
        "code": "do_not_call",
        "label": "Do not call (final, every client)",
        "aapor_code": "2.112b",
        "aapor_class": "R",
        "final": True,
        "opt_out": True,
        "conversation": True,
        "shortcut": "d",
    },
    {
        "code": "break_off",
        "label": "Break-off before the score",
        "aapor_code": "2.12",
        "aapor_class": "R",
        "final": True,
        "conversation": True,
        "shortcut": "x",
    },
    {
        "code": "no_answer",
        "label": "No answer",
        "aapor_code": "3.13",
        "aapor_class": "UH",
        "retry_after": 180 * _MIN,
        "shortcut": "n",
    },
    {
        "code": "busy",
        "label": "Busy",
        "aapor_code": "3.12",
        "aapor_class": "UH",
        "retry_after": 15 * _MIN,
        "shortcut": "b",
    },
    {
        "code": "answering_machine",
        "label": "Answering machine",
        "aapor_code": "3.14",
        "aapor_class": "UH",
        "retry_after": 180 * _MIN,
        "shortcut": "m",
    },
    {
        "code": "not_available",
        "label": "Someone else answered: the debtor is not there now",
        "aapor_code": "2.21",
        "aapor_class": "NC",
        "retry_after": 180 * _MIN,
        "shortcut": "o",
    },
    {
        "code": "wrong_number",
        "label": "Wrong number (nobody there knows the debtor)",
        "aapor_code": "3.9",
        "aapor_class": "UO",
        "final": True,
        "shortcut": "w",
    },
    {
        "code": "not_in_service",
        "label": "Number not in service",
        "aapor_code": "4.3",
        "aapor_class": "NE",
        "final": True,
        "shortcut": "s",
    },
    {
        "code": "language_barrier",
        "label": "Language barrier",
        "aapor_code": "2.33",
        "aapor_class": "O",
        "final": True,
        "conversation": True,
        "shortcut": "l",
    },
    {
        "code": "callback",
        "label": "Callback requested",
        "aapor_code": "2.11i",
        "aapor_class": "NC",
        "conversation": True,
        "counts_as_attempt": True,
        "shortcut": "a",
    },
]


def survey_default_ensure() -> Any:
    """The shared default survey, created with its first version when missing."""
    from surveys.models import Survey, SurveyVersion

    survey, _ = Survey.objects.get_or_create(client=None, name=DEFAULT_SURVEY_NAME)
    if not SurveyVersion.objects.filter(survey=survey).exists():
        SurveyVersion.objects.create(survey=survey, number=1, questions=DEFAULT_QUESTIONS)
    return survey


def seed_apply(apps: Any) -> None:
    """Load the shipped data through the given app registry (a migration's or the live one)."""
    Survey = apps.get_model("surveys", "Survey")
    SurveyVersion = apps.get_model("surveys", "SurveyVersion")
    SmsTemplate = apps.get_model("surveys", "SmsTemplate")
    Disposition = apps.get_model("surveys", "Disposition")
    survey, _ = Survey.objects.get_or_create(client=None, name=DEFAULT_SURVEY_NAME)
    if not SurveyVersion.objects.filter(survey=survey).exists():
        SurveyVersion.objects.create(survey=survey, number=1, questions=DEFAULT_QUESTIONS)
    for (kind, language), body in DEFAULT_TEMPLATES.items():
        SmsTemplate.objects.get_or_create(
            client=None, kind=kind, language=language, defaults={"body": body}
        )
    for order, spec in enumerate(DEFAULT_DISPOSITIONS):
        Disposition.objects.update_or_create(
            code=spec["code"],
            defaults={**{k: v for k, v in spec.items() if k != "code"}, "order": order},
        )
