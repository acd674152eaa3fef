"""Kinder default wording for installations made before it changed.

- The shipped SMS texts now say what to do to stop them in every language ("Risponda STOP
  ...") and the Spanish confirmation no longer drops accents to stay in GSM-7.
- The default survey's questions read better: the Italian score question uses the subjunctive,
  and the "listened" question no longer assumes the debtor's gender.

Only rows still holding the old shipped text change: a text an administrator edited stays as
it is. Survey versions are frozen, so the default survey gets a new version with the new
wording; answers already given keep the version they answered.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import migrations

OLD_TEMPLATES: dict[tuple[str, str], str] = {
    ('invitation', 'it'): "Grazie per il suo tempo. Com'è andata? Risponda con un voto 0-10 o apra {link} STOP per non ricevere SMS",
    ('invitation', 'es'): '¡Gracias! ¿Qué tal le atendimos? Responda con una nota 0-10 o abra {link} BAJA para no recibir SMS',
    ('invitation', 'en'): 'Thanks for your time. How did we do? Reply with a score 0-10 or open {link} Reply STOP to opt out',
    ('reminder', 'it'): 'Ci aiuta a migliorare? Risponda con un voto 0-10 o apra {link} STOP per non ricevere SMS',
    ('reminder', 'es'): '¿Nos ayuda a mejorar? Responda con una nota 0-10 o abra {link} BAJA para no recibir SMS',
    ('reminder', 'en'): 'Could you help us improve? Reply with a score 0-10 or open {link} Reply STOP to opt out',
    ('confirmation', 'it'): 'Non riceverà altri SMS da noi. Risponda START per riattivarli.',
    ('confirmation', 'es'): 'No recibira mas SMS nuestros. Responda ALTA para reactivarlos.',
    ('confirmation', 'en'): 'You will get no more texts from us. Reply START to opt back in.',
}

OLD_QUESTIONS: list[dict[str, Any]] = json.loads(
    '[{"key": "nps", "kind": "nps", "required": true, "text": {"it": "Pensando alla telefonata o alla visita che ha ricevuto, quanto è probabile che consiglierebbe il nostro modo di lavorare a un amico o a un familiare?", "es": "Pensando en la llamada o la visita que recibió, ¿qué probabilidad hay de que recomiende nuestra forma de trabajar a un amigo o familiar?", "en": "Thinking of the call or visit you received, how likely are you to recommend the way we work to a friend or relative?"}}, {"key": "reason", "kind": "text", "required": false, "text": {"it": "Qual è il motivo principale del suo voto?", "es": "¿Cuál es el motivo principal de su puntuación?", "en": "What is the main reason for your score?"}}, {"key": "listened", "kind": "rating5", "required": false, "text": {"it": "Quanto si è sentito ascoltato? (1 = per niente, 5 = del tutto)", "es": "¿Cuánto se sintió escuchado? (1 = nada, 5 = totalmente)", "en": "How well did you feel listened to? (1 = not at all, 5 = completely)"}}, {"key": "solution", "kind": "yesno", "required": false, "text": {"it": "Avete trovato insieme una soluzione adatta alla sua situazione?", "es": "¿Encontraron juntos una solución adecuada a su situación?", "en": "Did you find together a solution that suits your situation?"}}]'
)


def forward(apps: Any, schema_editor: Any) -> None:
    from surveys.definitions import DEFAULT_QUESTIONS
    from surveys.seed import DEFAULT_SURVEY_NAME, DEFAULT_TEMPLATES

    SmsTemplate = apps.get_model("surveys", "SmsTemplate")
    for (kind, language), old in OLD_TEMPLATES.items():
        SmsTemplate.objects.filter(client=None, kind=kind, language=language, body=old).update(
            body=DEFAULT_TEMPLATES[(kind, language)]
        )
    Survey = apps.get_model("surveys", "Survey")
    SurveyVersion = apps.get_model("surveys", "SurveyVersion")
    survey = Survey.objects.filter(client=None, name=DEFAULT_SURVEY_NAME).first()
    if survey is None:
        return
    current = SurveyVersion.objects.filter(survey=survey).order_by("-number").first()
    if current is not None and current.questions == OLD_QUESTIONS:
        SurveyVersion.objects.create(
            survey=survey, number=current.number + 1, questions=DEFAULT_QUESTIONS
        )


class Migration(migrations.Migration):
    dependencies = [("surveys", "0005_frozen_survey_versions")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
