"""The callers' console (`/cati/`) and the supervisor's CATI page (`/cati/supervisor/`).

The console works with plain form posts; `static/surveys/cati.js` adds the keyboard (digits
for the score, Enter to move on, one letter per disposition, N for the next call) and a
heartbeat that keeps the caller's hold on the case while the page is open. Without the script
the hold is renewed by every post.

What the case screen shows helps the call (the number to dial, the debtor's local time and
language, earlier attempts and call-back notes, the script in the debtor's language); what
would bias it is never rendered: not the operator being rated, not the contact's outcome, not
any amount.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from collections_link.models import ContactChannel, Language
from collections_link.roles import is_agency_staff, is_caller, visible_clients
from surveys.cati_forms import CALLER_NOTE, AnswersForm, DispositionForm
from surveys.cati_selectors import (
    aapor_by_client,
    aapor_rates,
    caller_productivity,
    callers_working,
    cati_queue_counts,
)
from surveys.channels.cati import (
    LEASE,
    AnswersInvalid,
    CatiError,
    cati_case_claim,
    cati_case_release,
    cati_lease_renew,
    cati_next_due,
    dispositions_for_callers,
)
from surveys.channels.cati_record import (
    cati_record_answers,
    cati_record_disposition,
)
from surveys.channels.cati_rules import CaseRules, case_rules
from surveys.definitions import NPS_END_LABELS, Question, question_text
from surveys.models import CallAttempt, CatiCase, CatiCaseStatus
from surveys.windows import window_end

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]

# The script's spoken lines, in the debtor's language. The creditor is named only here, read
# once the caller knows the debtor is on the line; the SMS never names it (DOMAIN rule 6).
SCRIPT: dict[str, dict[str, str]] = {
    "it": {
        "intro": "{greeting}, sono {caller}. La chiamo per conto di {client} per un breve "
        "sondaggio di un minuto sulla {contact} che ha ricevuto il {date}. Ha un momento?",
        "privacy": "Le sue risposte vanno all'azienda per cui la chiamo, per migliorare il "
        "servizio, e può interrompere in qualsiasi momento.",
        "scale": "Da 0 a 10, dove 0 vuol dire «{low}» e 10 «{high}».",
        "closing": "Grazie davvero per il suo tempo. Buona giornata!",
        "call": "telefonata",
        "visit": "visita",
    },
    "es": {
        "intro": "{greeting}, soy {caller}. Le llamo de parte de {client} para una breve "
        "encuesta de un minuto sobre la {contact} que recibió el {date}. ¿Tiene un momento?",
        "privacy": "Sus respuestas llegan a la empresa en cuyo nombre le llamo, para mejorar el "
        "servicio, y puede parar cuando quiera.",
        "scale": "De 0 a 10, donde 0 es «{low}» y 10 «{high}».",
        "closing": "Muchas gracias por su tiempo. ¡Que tenga un buen día!",
        "call": "llamada",
        "visit": "visita",
    },
    "en": {
        "intro": "{greeting}, this is {caller}. I'm calling on behalf of {client} for a one-minute "
        "survey about the {contact} you received on {date}. Do you have a moment?",
        "privacy": "Your answers go to the company I'm calling for, to improve the service, "
        "and you can stop at any time.",
        "scale": 'From 0 to 10, where 0 means "{low}" and 10 "{high}".',
        "closing": "Thank you very much for your time. Have a good day!",
        "call": "call",
        "visit": "visit",
    },
}
MONTHS: dict[str, tuple[str, ...]] = {
    "it": ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
           "settembre", "ottobre", "novembre", "dicembre"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}  # fmt: skip


def _spoken_date(day: dt.date, language: str) -> str:
    month = MONTHS.get(language, MONTHS["en"])[day.month - 1]
    if language == "es":
        return f"{day.day} de {month}"
    return f"{day.day} {month}" if language != "en" else f"{month} {day.day}"


# (from this local hour, greeting), latest first: "buongiorno" at 19:00 sounds odd.
GREETINGS: dict[str, tuple[tuple[int, str], ...]] = {
    "it": ((14, "Buonasera"), (0, "Buongiorno")),
    "es": ((20, "Buenas noches"), (14, "Buenas tardes"), (0, "Buenos días")),
    "en": ((0, "Hello"),),
}


def _greeting(local: dt.datetime, language: str) -> str:
    for hour, words in GREETINGS.get(language, GREETINGS["en"]):
        if local.hour >= hour:
            return words
    return GREETINGS["en"][0][1]


def caller_required(view: View) -> View:
    """Signed in (else the login page) and a caller, supervisor or admin (else 403)."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_caller(request.user):
            raise PermissionDenied("The CATI console is for callers.")
        return view(request, *args, **kwargs)

    return wrapped


def staff_required(view: View) -> View:
    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_agency_staff(request.user):
            raise PermissionDenied("The CATI supervisor page is for the agency's supervisors.")
        return view(request, *args, **kwargs)

    return wrapped


def _user(request: HttpRequest) -> AbstractBaseUser:
    user = request.user
    assert isinstance(user, AbstractBaseUser)
    return user


# --- the idle screen -----------------------------------------------------------------------------


def _console_context(request: HttpRequest, *, now: dt.datetime) -> dict[str, Any]:
    user = _user(request)
    since = now - dt.timedelta(hours=12)
    mine = CallAttempt.objects.filter(caller_id=user.pk, started_at__gte=since)
    due_now = CatiCase.objects.filter(status=CatiCaseStatus.QUEUED, due_at__lte=now).count()
    return {
        "due_now": due_now,
        "next_due": None if due_now else cati_next_due(caller=user, now=now),
        "calls_today": mine.exclude(
            disposition__isnull=True, lease_lost=False, ended_at__isnull=False
        ).count(),
        "completes_today": mine.filter(disposition__aapor_class="I").count(),
        "is_staff": is_agency_staff(user),
    }


@require_GET
@caller_required
def console(request: HttpRequest) -> HttpResponse:
    held = CatiCase.objects.filter(status=CatiCaseStatus.HELD, held_by_id=request.user.pk).first()
    if held is not None:
        return redirect("cati:case", case_id=held.pk)
    return render(
        request, "surveys/cati/console.html", _console_context(request, now=timezone.now())
    )


@require_POST
@caller_required
def next_call(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    case = cati_case_claim(caller=_user(request), now=now)
    if case is None:
        messages.info(
            request,
            "No case can be called right now: the cases due wait for their debtors' calling "
            "hours, or are contacts you made yourself (a caller never surveys their own).",
        )
        return redirect("cati:console")
    return redirect("cati:case", case_id=case.pk)


def _refused(request: HttpRequest, error: CatiError, *, status: int = 409) -> HttpResponse:
    """The idle screen with the refusal on top: the case is not (or no longer) the caller's."""
    context = _console_context(request, now=timezone.now())
    context["refusal"] = error.message
    return render(request, "surveys/cati/console.html", context, status=status)


# --- the case screen -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptRow:
    started_local: str
    caller: str
    outcome: str
    note: str
    lease_lost: bool


@dataclass(frozen=True)
class ScriptQuestion:
    key: str
    text: str
    kind: str


def _format_phone(phone: str) -> str:
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def _case_context(
    request: HttpRequest,
    case: CatiCase,
    *,
    now: dt.datetime,
    answers_form: AnswersForm | None = None,
    disposition_form: DispositionForm | None = None,
    error: str = "",
) -> dict[str, Any]:
    invitation = case.invitation
    rules: CaseRules = case_rules(case)
    language = invitation.language
    version = invitation.survey_version
    questions: list[Question] = list(version.questions) if version is not None else []
    zone = rules.zone
    script = SCRIPT.get(language, SCRIPT["en"])
    low, high = NPS_END_LABELS.get(language, NPS_END_LABELS["en"])
    contact = invitation.contact
    user = _user(request)
    caller_name = getattr(user, "first_name", "") or user.get_username()
    intro = script["intro"].format(
        greeting=_greeting(now.astimezone(zone), language),
        caller=caller_name,
        client=case.client.name,
        contact=script["visit" if contact.channel == ContactChannel.HOME_VISIT else "call"],
        date=_spoken_date(contact.started_at.astimezone(zone).date(), language),
    )
    attempts = [
        AttemptRow(
            started_local=f"{a.started_at.astimezone(zone):%a %d %b %H:%M}",
            caller="you"
            if a.caller_id == user.pk
            else (a.caller.get_username() if a.caller else "?"),
            outcome=a.disposition.label
            if a.disposition
            else (
                "Hold ran out"
                if a.lease_lost
                else ("In progress" if a.ended_at is None else "Released")
            ),
            note=a.note,
            lease_lost=a.lease_lost,
        )
        for a in CallAttempt.objects.filter(case=case)
        .select_related("disposition", "caller")
        .order_by("started_at", "pk")
    ]
    if case.last_attempt_at is not None:
        attempts.append(
            AttemptRow(
                started_local=f"{case.last_attempt_at.astimezone(zone):%a %d %b %H:%M}",
                caller="you",
                outcome="This call (in progress)",
                note="",
                lease_lost=False,
            )
        )
    local_times = [(z, now.astimezone(ZoneInfo(z))) for z in (rules.zones or (str(zone.key),))]
    closes = window_end(now, zones=rules.zones, profile=rules.profile) if rules.zones else None
    if answers_form is None:
        answers_form = AnswersForm(questions=questions, language=language)
    dispositions = dispositions_for_callers()
    if disposition_form is None:
        disposition_form = DispositionForm(dispositions=dispositions, zone=zone)
    return {
        "case": case,
        "invitation": invitation,
        "client_name": case.client.name,
        "phone": invitation.phone_e164,
        "phone_display": _format_phone(invitation.phone_e164),
        "language_label": Language(language).label if language in Language.values else language,
        "language": language,
        "local_times": local_times,
        # A window open for more than a day (a round-the-clock profile) has no useful end.
        "window_closes": closes.astimezone(zone)
        if closes and closes - now <= dt.timedelta(days=1)
        else None,
        "window_open_all_day": closes is not None and closes - now > dt.timedelta(days=1),
        "attempt_number": case.attempts + 1,
        "max_attempts": rules.policy.cati_max_attempts,
        "attempts": attempts,
        "callback_note": case.callback_note,
        "callback_at": case.callback_at.astimezone(zone) if case.callback_at else None,
        "zone_name": zone.key,
        "intro": intro,
        "privacy": script["privacy"],
        "scale": script["scale"].format(low=low, high=high),
        "closing": script["closing"],
        "questions": [
            ScriptQuestion(key=q["key"], text=question_text(q, language), kind=q["kind"])
            for q in questions
        ],
        "answers_form": answers_form,
        "disposition_form": disposition_form,
        "dispositions": dispositions,
        "lease_seconds": int(LEASE.total_seconds()),
        "heartbeat_url": reverse("cati:heartbeat", kwargs={"case_id": case.pk}),
        "error": error,
        "today_local": now.astimezone(zone).date().isoformat(),
    }


def _held_by_me(request: HttpRequest, case_id: int) -> CatiCase | None:
    return (
        CatiCase.objects.select_related(
            "invitation__contact", "invitation__survey_version", "client"
        )
        .filter(pk=case_id, status=CatiCaseStatus.HELD, held_by_id=request.user.pk)
        .first()
    )


@require_GET
@caller_required
def case_screen(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _held_by_me(request, case_id)
    if case is None:
        messages.warning(request, "You do not hold that case (any more).")
        return redirect("cati:console")
    now = timezone.now()
    cati_lease_renew(case_id=case.pk, caller=_user(request), now=now)
    return render(request, "surveys/cati/case.html", _case_context(request, case, now=now))


def _case_for_post(request: HttpRequest, case_id: int) -> CatiCase:
    return get_object_or_404(
        CatiCase.objects.select_related(
            "invitation__contact", "invitation__survey_version", "client"
        ),
        pk=case_id,
    )


@require_POST
@caller_required
def record_answers(request: HttpRequest, case_id: int) -> HttpResponse:
    now = timezone.now()
    case = _case_for_post(request, case_id)
    version = case.invitation.survey_version
    questions: list[Question] = list(version.questions) if version is not None else []
    form = AnswersForm(request.POST, questions=questions, language=case.invitation.language)
    complete = request.POST.get("action", "complete") != "partial"
    error = ""
    if form.is_valid():
        try:
            response = cati_record_answers(
                case_id=case.pk,
                caller=_user(request),
                answers=form.answers(),
                complete=complete,
                note=form.cleaned_data.get(CALLER_NOTE, ""),
                now=now,
            )
        except AnswersInvalid as exc:
            for key, errors in exc.errors.items():
                for message in errors:
                    form.add_error(key if key in form.fields else None, message)
            # The reasons sit under their fields; the top line says what happened.
            unplaced = [k for k in exc.errors if k not in form.fields]
            error = (
                exc.message if unplaced else "Nothing was saved: check the answers marked below."
            )
        except CatiError as exc:
            return _refused(request, exc)
        else:
            kind = "complete interview" if response.complete else "partial interview"
            messages.success(request, f"Saved: {kind}, score {response.score}.")
            return redirect("cati:console")
    else:
        error = "Nothing was saved: check the answers marked below."
    if case.status != CatiCaseStatus.HELD or case.held_by_id != request.user.pk:
        return _refused(request, CatiError(_not_held_message(case)))
    cati_lease_renew(case_id=case.pk, caller=_user(request), now=now)
    context = _case_context(request, case, now=now, answers_form=form, error=error)
    return render(request, "surveys/cati/case.html", context, status=400)


def _not_held_message(case: CatiCase) -> str:
    if case.status == CatiCaseStatus.HELD:
        return "Another caller holds this case now. Nothing was saved."
    if case.status == CatiCaseStatus.DONE:
        return "This case is closed. Nothing was saved."
    return "Your hold on this case ran out and it went back to the queue. Nothing was saved."


@require_POST
@caller_required
def record_disposition(request: HttpRequest, case_id: int) -> HttpResponse:
    now = timezone.now()
    case = _case_for_post(request, case_id)
    rules = case_rules(case)
    dispositions = dispositions_for_callers()
    form = DispositionForm(request.POST, dispositions=dispositions, zone=rules.zone)
    error = ""
    if form.is_valid():
        try:
            result = cati_record_disposition(
                case_id=case.pk,
                caller=_user(request),
                code=form.cleaned_data["disposition"],
                note=form.cleaned_data.get("note", ""),
                callback_at=form.callback_at(),
                now=now,
            )
        except CatiError as exc:
            if isinstance(exc, AnswersInvalid) or exc.field:
                form.add_error(
                    "callback_date" if exc.field == "callback" else "disposition", exc.message
                )
                error = exc.message
            else:
                return _refused(request, exc)
        else:
            messages.success(request, result.message)
            return redirect("cati:console")
    else:
        error = "Nothing was saved: " + "; ".join(
            str(m) for errors in form.errors.values() for m in errors
        )
    if case.status != CatiCaseStatus.HELD or case.held_by_id != request.user.pk:
        return _refused(request, CatiError(_not_held_message(case)))
    cati_lease_renew(case_id=case.pk, caller=_user(request), now=now)
    context = _case_context(request, case, now=now, disposition_form=form, error=error)
    return render(request, "surveys/cati/case.html", context, status=400)


@require_POST
@caller_required
def heartbeat(request: HttpRequest, case_id: int) -> JsonResponse:
    now = timezone.now()
    if cati_lease_renew(case_id=case_id, caller=_user(request), now=now):
        return JsonResponse({"held": True, "lease_expires_at": (now + LEASE).isoformat()})
    return JsonResponse(
        {"held": False, "message": "Your hold on this case ran out. Nothing more will be saved."},
        status=409,
    )


@require_POST
@caller_required
def release(request: HttpRequest, case_id: int) -> HttpResponse:
    if cati_case_release(case_id=case_id, caller=_user(request)):
        messages.info(request, "Case given back to the queue without a call.")
    return redirect("cati:console")


# --- the supervisor page -------------------------------------------------------------------------


def _parse_day(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


@require_GET
@staff_required
def supervisor(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    tz = ZoneInfo(settings.TIME_ZONE)
    today = now.astimezone(tz).date()
    until_day = _parse_day(request.GET.get("until")) or today
    since_day = _parse_day(request.GET.get("since")) or until_day - dt.timedelta(days=6)
    if since_day > until_day:
        since_day, until_day = until_day, since_day
    since = dt.datetime.combine(since_day, dt.time(0), tzinfo=tz)
    until = dt.datetime.combine(until_day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    clients = list(visible_clients(request.user).order_by("name"))
    client_ref = request.GET.get("client") or ""
    chosen = next((c for c in clients if c.ref == client_ref), None)
    client_ids = [chosen.pk] if chosen else None
    by_client = aapor_by_client(since=since, until=until, client_ids=client_ids)
    by_caller = caller_productivity(since=since, until=until, tz=tz, client_ids=client_ids)
    if request.GET.get("export") == "csv":
        return _supervisor_csv(by_client, by_caller, since_day, until_day)
    context = {
        "now": now.astimezone(tz),
        "queue": cati_queue_counts(now=now, since=since, client_ids=client_ids),
        "working": callers_working(now=now),
        "by_client": [(row, row.rates) for row in by_client],
        "by_caller": [(row, aapor_rates(row.counts)) for row in by_caller],
        "clients": clients,
        "client_ref": chosen.ref if chosen else "",
        "since": since_day.isoformat(),
        "until": until_day.isoformat(),
    }
    return render(request, "surveys/cati/supervisor.html", context)


def _supervisor_csv(
    by_client: list[Any], by_caller: list[Any], since: dt.date, until: dt.date
) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="cati-{since}-{until}.csv"'
    writer = csv.writer(response)
    classes = ["I", "P", "R", "NC", "O", "UH", "UO", "NE"]
    rates = ["RR1", "RR2", "COOP1", "REF1", "CON1"]
    writer.writerow(["group", "name", *classes, *rates, "calls", "completes", "completes_per_hour"])
    for row in by_client:
        r = row.rates
        writer.writerow(
            ["client", row.client.name, *(getattr(row.counts, c) for c in classes)]
            + [_csv_rate(getattr(r, k)) for k in rates]
            + ["", "", ""]
        )
    for row in by_caller:
        r = aapor_rates(row.counts)
        cph = row.completes_per_hour
        writer.writerow(
            ["caller", row.username, *(getattr(row.counts, c) for c in classes)]
            + [_csv_rate(getattr(r, k)) for k in rates]
            + [row.calls, row.completes, "" if cph is None else f"{cph:.2f}"]
        )
    return response


def _csv_rate(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
