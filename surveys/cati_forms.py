"""The caller console's forms. They check the shape of what was typed (a score is a whole number
from 0 to 10, a call-back has a date and a time); the services decide the rest (the window, the
lease, the survey's own questions) and refuse with a message the page shows."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django import forms

from surveys.definitions import Question, question_text
from surveys.ledger import CALLBACK_CODE
from surveys.models import Disposition

YES_NO_HINT = {"it": "s / n", "es": "s / n", "en": "y / n"}
YES_WORDS = frozenset({"s", "si", "sì", "sí", "y", "yes", "1"})
NO_WORDS = frozenset({"n", "no", "0"})
CALLER_NOTE = "caller_note"


def _text_input(**attrs: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"autocomplete": "off", **attrs})


class AnswersForm(forms.Form):
    """The survey's questions as the caller keys them: the score as digits, the reason as
    text, then the extras (a rating as a digit, yes/no as a letter, a choice from a list)."""

    def __init__(self, *args: Any, questions: list[Question], language: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        for question in questions:
            key, kind = question["key"], question["kind"]
            label = question_text(question, language)
            if kind == "nps":
                self.fields[key] = forms.CharField(
                    label=label,
                    required=False,
                    max_length=3,
                    widget=_text_input(
                        inputmode="numeric",
                        pattern="[0-9]{1,2}",
                        size="3",
                        **{"data-score": "1", "aria-describedby": "score-help"},
                    ),
                )
            elif kind == "rating5":
                self.fields[key] = forms.CharField(
                    label=label,
                    required=False,
                    max_length=1,
                    widget=_text_input(inputmode="numeric", pattern="[1-5]", size="2"),
                    help_text="1-5",
                )
            elif kind == "yesno":
                self.fields[key] = forms.CharField(
                    label=label,
                    required=False,
                    max_length=3,
                    widget=_text_input(size="3"),
                    help_text=YES_NO_HINT.get(language, "y / n"),
                )
            elif kind == "choice":
                choices = [("", "—")] + [
                    (c["value"], c["label"].get(language) or c["label"]["en"])
                    for c in question.get("choices", [])
                ]
                self.fields[key] = forms.ChoiceField(label=label, required=False, choices=choices)
            else:
                self.fields[key] = forms.CharField(
                    label=label, required=False, max_length=2000, widget=_text_input()
                )
        # Named so that no survey question key can collide with it.
        self.fields[CALLER_NOTE] = forms.CharField(
            label="Note for the file (not read to the debtor)",
            required=False,
            max_length=300,
            widget=_text_input(),
        )

    def clean_nps(self) -> int | None:
        raw = (self.cleaned_data.get("nps") or "").strip()
        if not raw:
            return None
        if not raw.isdigit():
            raise forms.ValidationError("Type the score as a whole number from 0 to 10.")
        score = int(raw)
        if score > 10:
            raise forms.ValidationError(f"{score} is outside the scale: the score is 0 to 10.")
        return score

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for question in self.questions:
            if question["kind"] != "yesno":
                continue
            raw = str(data.get(question["key"]) or "").strip().lower()
            # One letter in the debtor's language: s(ì)/y(es) or n(o).
            if raw in YES_WORDS:
                data[question["key"]] = "yes"
            elif raw in NO_WORDS:
                data[question["key"]] = "no"
            elif raw:
                self.add_error(question["key"], "Type y (or s) for yes, n for no.")
        return data

    def answers(self) -> dict[str, Any]:
        """The answers for `response_record`: the survey's keys only, blanks left out."""
        out: dict[str, Any] = {}
        for question in self.questions:
            value = self.cleaned_data.get(question["key"])
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            out[question["key"]] = value
        return out


class DispositionForm(forms.Form):
    """How the call ended when it was not an interview, with a call-back time (the debtor's
    local date and time) for the call-back disposition."""

    disposition = forms.ChoiceField(
        label="How did the call end?", widget=forms.RadioSelect, required=False
    )
    callback_date = forms.DateField(
        label="Call back on (debtor's date)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    callback_time = forms.TimeField(
        label="at (debtor's time)",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time", "step": "300"}),
    )
    note = forms.CharField(
        label='Note (e.g. "call after work")',
        required=False,
        max_length=300,
        widget=_text_input(),
    )

    def __init__(
        self, *args: Any, dispositions: list[Disposition], zone: ZoneInfo, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.dispositions = dispositions
        field = self.fields["disposition"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(d.code, f"{d.label} [{d.shortcut.upper()}]") for d in dispositions]

    def clean_disposition(self) -> str:
        code = self.cleaned_data.get("disposition") or ""
        if not code:
            raise forms.ValidationError("Choose a disposition.")
        return str(code)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("disposition") == CALLBACK_CODE:
            day, time = data.get("callback_date"), data.get("callback_time")
            if day is None or time is None:
                self.add_error(
                    "callback_date",
                    "Give the date and the time the debtor asked to be called back.",
                )
        return data

    def callback_at(self) -> dt.datetime | None:
        day = self.cleaned_data.get("callback_date")
        time = self.cleaned_data.get("callback_time")
        if self.cleaned_data.get("disposition") != CALLBACK_CODE or day is None or time is None:
            return None
        return dt.datetime.combine(day, time).replace(tzinfo=self.zone)
