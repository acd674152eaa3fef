"""Forms of the debtor's survey page: one question per screen, one form per question.

The form checks the answer against its question before the service is called, with the error
said in the debtor's language (the service's own messages are for staff and logs). The service
(`surveys.responses.response_record`) validates again and is the one that stores.
"""

from __future__ import annotations

from typing import Any

from django import forms

from surveys.definitions import NPS_END_LABELS, YES_NO_LABELS, Question
from surveys.page_text import page_text
from surveys.responses import REASON_MAX_CHARS


def answer_choices(question: Question, language: str) -> list[tuple[str, str]]:
    """(value, visible label) for a question answered by choosing; empty for free text."""
    kind = question["kind"]
    if kind == "nps":
        return [(str(n), str(n)) for n in range(11)]
    if kind == "rating5":
        return [(str(n), str(n)) for n in range(1, 6)]
    if kind == "yesno":
        yes, no = YES_NO_LABELS.get(language, YES_NO_LABELS["en"])
        return [("yes", yes), ("no", no)]
    if kind == "choice":
        return [
            (c["value"], c["label"].get(language) or c["label"]["en"])
            for c in question.get("choices", [])
        ]
    return []


def scale_end_labels(language: str) -> tuple[str, str]:
    return NPS_END_LABELS.get(language, NPS_END_LABELS["en"])


class AnswerForm(forms.Form):
    """The answer to one question, in a field named by the question's key."""

    def __init__(self, data: Any = None, *, question: Question, language: str) -> None:
        super().__init__(data)
        self.question = question
        self.key = question["key"]
        text = page_text(language)
        required = bool(question.get("required"))
        required_msg = (
            text["error_required_score"] if question["kind"] == "nps" else text["error_required"]
        )
        choices = answer_choices(question, language)
        field: forms.Field
        if choices:
            field = forms.ChoiceField(
                choices=choices,
                required=required,
                error_messages={
                    "required": required_msg,
                    "invalid_choice": text["error_invalid_choice"],
                },
            )
        else:
            field = forms.CharField(
                required=required,
                max_length=REASON_MAX_CHARS,
                error_messages={
                    "required": required_msg,
                    "max_length": text["error_too_long"].format(max=REASON_MAX_CHARS),
                },
            )
        self.fields[self.key] = field

    def answer(self) -> str:
        """The validated raw answer ('' when an optional question was left blank)."""
        value: str = self.cleaned_data.get(self.key) or ""
        return value

    def error_text(self) -> str:
        errors = self.errors.get(self.key)
        return str(errors[0]) if errors else ""
