"""Survey definitions: the question kinds, the shipped default survey, and the validation every
saved version passes (NPS first, then the reason, then at most five extras, all in it/es/en)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from django.core.exceptions import ValidationError

LANGUAGES = ("it", "es", "en")
MAX_EXTRAS = 5
QuestionKind = Literal["nps", "text", "rating5", "yesno", "choice"]
KINDS: tuple[str, ...] = ("nps", "text", "rating5", "yesno", "choice")


class Choice(TypedDict):
    value: str
    label: dict[str, str]


class Question(TypedDict):
    key: str
    kind: QuestionKind
    required: bool
    text: dict[str, str]
    choices: NotRequired[list[Choice]]


# The end labels of the 0-10 scale, shown under 0 and 10 on the page and read by CATI callers.
NPS_END_LABELS: dict[str, tuple[str, str]] = {
    "it": ("Per niente probabile", "Estremamente probabile"),
    "es": ("Nada probable", "Extremadamente probable"),
    "en": ("Not at all likely", "Extremely likely"),
}

DEFAULT_QUESTIONS: list[Question] = [
    {
        "key": "nps",
        "kind": "nps",
        "required": True,
        "text": {
            "it": "Pensando alla telefonata o alla visita che ha ricevuto, quanto è probabile "
            "che consigli il nostro modo di lavorare a un amico o a un familiare?",
            "es": "Pensando en la llamada o la visita que recibió, ¿qué probabilidad hay de que "
            "recomiende nuestra forma de trabajar a un amigo o familiar?",
            "en": "Thinking of the call or visit you received, how likely are you to recommend "
            "the way we work to a friend or relative?",
        },
    },
    {
        "key": "reason",
        "kind": "text",
        "required": False,
        "text": {
            "it": "Qual è il motivo principale del suo voto?",
            "es": "¿Cuál es el motivo principal de su puntuación?",
            "en": "What is the main reason for your score?",
        },
    },
    {
        "key": "listened",
        "kind": "rating5",
        "required": False,
        "text": {
            "it": "Quanto abbiamo ascoltato quello che aveva da dire? "
            "(1 = per niente, 5 = del tutto)",
            "es": "¿Cuánto escuchamos lo que tenía que decir? (1 = nada, 5 = totalmente)",
            "en": "How well did we listen to what you had to say? (1 = not at all, 5 = completely)",
        },
    },
    {
        "key": "solution",
        "kind": "yesno",
        "required": False,
        "text": {
            "it": "Avete trovato insieme una soluzione adatta alla sua situazione?",
            "es": "¿Encontraron juntos una solución adecuada a su situación?",
            "en": "Did we find a solution together that suits your situation?",
        },
    },
]

YES_NO_LABELS: dict[str, tuple[str, str]] = {
    "it": ("Sì", "No"),
    "es": ("Sí", "No"),
    "en": ("Yes", "No"),
}


def validate_questions(questions: Any) -> list[Question]:
    """Check a survey version's questions; raise ValidationError saying what to fix."""
    if not isinstance(questions, list) or len(questions) < 2:
        raise ValidationError("A survey needs at least the NPS question and the reason question.")
    errors: list[str] = []
    first, second, *extras = questions
    if not isinstance(first, dict) or first.get("kind") != "nps" or first.get("key") != "nps":
        errors.append("The first question must be the NPS question (key 'nps', kind 'nps').")
    elif not first.get("required"):
        errors.append("The NPS question must be required.")
    if (
        not isinstance(second, dict)
        or second.get("kind") != "text"
        or second.get("key") != "reason"
    ):
        errors.append("The second question must be the free-text 'reason' question.")
    if len(extras) > MAX_EXTRAS:
        errors.append(f"At most {MAX_EXTRAS} extra questions; this survey has {len(extras)}.")
    seen: set[str] = set()
    for position, question in enumerate(questions, start=1):
        if not isinstance(question, dict):
            errors.append(f"Question {position} must be an object.")
            continue
        key = question.get("key")
        if not isinstance(key, str) or not key.isidentifier():
            errors.append(f"Question {position} needs a key made of letters, digits and _.")
        elif key in seen:
            errors.append(f"Question {position}: the key '{key}' is used twice.")
        else:
            seen.add(key)
        kind = question.get("kind")
        if kind not in KINDS:
            errors.append(f"Question {position}: unknown kind {kind!r}; use one of {KINDS}.")
        if position > 2 and kind == "nps":
            errors.append(f"Question {position}: only the first question may be an NPS question.")
        text = question.get("text")
        missing = [lang for lang in LANGUAGES if not (isinstance(text, dict) and text.get(lang))]
        if missing:
            errors.append(f"Question {position} has no text in {', '.join(missing)}.")
        if kind == "choice":
            choices = question.get("choices")
            if not isinstance(choices, list) or not 2 <= len(choices) <= 8:
                errors.append(
                    f"Question {position}: a single-choice question needs 2 to 8 choices."
                )
            else:
                for choice in choices:
                    labels = choice.get("label") if isinstance(choice, dict) else None
                    if not isinstance(labels, dict) or any(not labels.get(lg) for lg in LANGUAGES):
                        errors.append(
                            f"Question {position}: every choice needs a value and a label in "
                            "it, es and en."
                        )
                        break
    if errors:
        raise ValidationError(errors)
    return questions


def question_text(question: Question, language: str) -> str:
    return question["text"].get(language) or question["text"]["en"]
