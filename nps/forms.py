"""The dashboard's filters (kept in the URL so a filtered view can be shared) and the
follow-up case forms."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from collections_link.models import Client, ContactChannel, Operator, Outcome
from nps.models import FollowUpStatus
from nps.types import NpsFilters
from surveys.models import ResponseChannel


def client_operators(client: Client) -> QuerySet[Operator]:
    """Operators who serve or served the client (an operator who moved keeps their history)."""
    return (
        Operator.objects.filter(Q(client=client) | Q(assignments__client=client))
        .distinct()
        .order_by("name", "ref")
    )


def _date_field(label: Any) -> forms.DateField:
    return forms.DateField(
        label=label, required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class DashboardFilterForm(forms.Form):
    """Period, survey channel, contact type, operator and outcome. Every field is optional; an
    invalid value is reported on the page and ignored, never a 500.

    The parameter names are the API's (`from`, `to`, `channel`, `contact_type`, `operator`,
    `outcome`), so a dashboard URL's query string asks /api/v1/nps/ the same question. `from`
    is a Python keyword, hence the fields are built in __init__ rather than declared."""

    def __init__(
        self,
        data: Any = None,
        *,
        client: Client | None = None,
        operators: list[Operator] | None = None,
        with_operator: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, **kwargs)
        everything: list[tuple[str, Any]] = [("", _("All"))]
        if operators is None:
            operators = list(client_operators(client)) if client is not None else []
        self._operators = {op.ref: op for op in operators}
        fields: dict[str, forms.Field] = {
            "from": _date_field(_("From")),
            "to": _date_field(_("To")),
            "channel": forms.ChoiceField(
                label=_("Survey channel"),
                required=False,
                choices=everything + list(ResponseChannel.choices),
            ),
            "contact_type": forms.ChoiceField(
                label=_("Contact type"),
                required=False,
                choices=everything + list(ContactChannel.choices),
            ),
            # Views across clients (an operator belongs to one client) and the operator's own
            # page have no operator filter.
            "operator": forms.ChoiceField(
                label=_("Operator"),
                required=False,
                choices=everything + [(op.ref, op.name or op.ref) for op in operators],
            ),
            "outcome": forms.ChoiceField(
                label=_("Contact outcome"),
                required=False,
                choices=everything + list(Outcome.choices),
            ),
        }
        if client is None or not with_operator:
            del fields["operator"]
        self.fields.update(fields)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and start > end:
            raise forms.ValidationError(_("The period starts after it ends."))
        return cleaned

    def values(self) -> dict[str, Any]:
        """The valid filters. A filter that is not valid is left out, and only that one (the
        page names it); a period that starts after it ends drops both its dates."""
        self.is_valid()
        cleaned = dict(getattr(self, "cleaned_data", {}))
        if self.non_field_errors():
            cleaned.pop("from", None)
            cleaned.pop("to", None)
        return {k: v for k, v in cleaned.items() if v not in (None, "") and k not in self.errors}

    def ignored(self) -> list[str]:
        """What the page says about the filters it left out: each with its label and why."""
        notes = [
            f"{self[name].label}: {' '.join(str(e) for e in errors)}"
            for name, errors in self.errors.items()
            if name in self.fields
        ]
        notes += [str(e) for e in self.non_field_errors()]
        return notes

    def selected_operator(self) -> Operator | None:
        if "operator" not in self.fields:
            return None
        ref = self.values().get("operator")
        return self._operators.get(ref) if ref else None

    def filters(self, *, client_ids: list[int]) -> NpsFilters:
        v = self.values()
        operator = self.selected_operator()
        return NpsFilters(
            client_ids=client_ids,
            operator_ids=[operator.pk] if operator else None,
            channels=[v["channel"]] if v.get("channel") else None,
            contact_channels=[v["contact_type"]] if v.get("contact_type") else None,
            outcomes=[v["outcome"]] if v.get("outcome") else None,
            date_from=v.get("from"),
            date_to=v.get("to"),
        )

    def presets(self, today: dt.date) -> list[dict[str, Any]]:
        """The quick periods as links: the other filters kept, the period replaced."""
        current = (self.values().get("from"), self.values().get("to"))
        return [
            {
                "label": label,
                "query": self.querystring(
                    **{
                        "from": start.isoformat() if start else None,
                        "to": end.isoformat() if end else None,
                    }
                ),
                "active": current == (start, end),
            }
            for label, start, end in period_presets(today)
        ]

    def querystring(self, **overrides: str | None) -> str:
        """The valid filters as a query string (for export links and the API), with
        `overrides` set or, when None, removed."""
        params: dict[str, str] = {}
        for key, value in self.values().items():
            params[key] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        for key, override in overrides.items():
            if override is None:
                params.pop(key, None)
            else:
                params[key] = override
        return urlencode(params)


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def period_presets(today: dt.date) -> list[tuple[str, dt.date | None, dt.date | None]]:
    """Quick periods of whole months (label, from, to), open-ended up to today: whole months
    are what the monthly roll-up answers at once, and what a monthly report asks."""
    return [
        (str(_("Last 3 months")), _month_start(today, 2), None),
        (str(_("Last 12 months")), _month_start(today, 11), None),
        (str(_("This year")), dt.date(today.year, 1, 1), None),
        (str(_("Last year")), dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)),
        (str(_("All time")), None, None),
    ]


class TransitionForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=FollowUpStatus.choices)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What was said or done. Needed to resolve a case."),
    )


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReassignForm(forms.Form):
    owner: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("Owner"), queryset=User.objects.none()
    )

    def __init__(self, *args: Any, owners: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["owner"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = owners
