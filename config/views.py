from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from collections_link.models import Role
from collections_link.roles import user_role, visible_clients


@dataclass(frozen=True)
class Destination:
    label: str
    url: str
    about: str


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """A landing page that sends each role to its own work: the pages this user may open,
    each with a line on what it is for."""
    role = user_role(request.user)
    clients = list(visible_clients(request.user).order_by("name"))
    places: list[Destination] = []
    if role in {Role.AGENCY_ADMIN, Role.SUPERVISOR}:
        places.append(
            Destination(
                _("Agency dashboard"),
                reverse("nps:index"),
                _("Every client at a glance: NPS, response rates, queues and opt-outs to review."),
            )
        )
        places.append(
            Destination(
                _("Opt-out messages to review"),
                reverse("admin:surveys_reviewitem_changelist") + "?state__exact=open",
                _('Replies that may mean "stop writing to me": opt the number out or dismiss.'),
            )
        )
        places.append(
            Destination(
                _("CATI supervision"),
                reverse("cati:supervisor"),
                _("The call queue, callers at work and the week's dispositions."),
            )
        )
    if role in {Role.AGENCY_ADMIN, Role.SUPERVISOR, Role.CALLER}:
        places.append(
            Destination(
                _("CATI console"),
                reverse("cati:console"),
                _("Take the next call, read the script and key the answers."),
            )
        )
    for client in clients:
        places.append(
            Destination(
                _("NPS dashboard: %(client)s") % {"client": client.name},
                reverse("nps:client", kwargs={"client_ref": client.ref}),
                _(
                    "How this client's debtors rate the calls and visits, beside the money "
                    "recovered."
                ),
            )
        )
    if role in {Role.AGENCY_ADMIN, Role.SUPERVISOR}:
        if settings.SMS_BACKEND == "outbox":
            places.append(
                Destination(
                    _("SMS outbox"),
                    reverse("sms-outbox"),
                    _('The messages the development backend "sent", with their links.'),
                )
            )
        places.append(
            Destination(
                _("Administration"),
                reverse("admin:index"),
                _("Clients, policies, SMS texts, people and roles."),
            )
        )
    if role is not None:
        places.append(
            Destination(
                _("API documentation"),
                reverse("api-docs"),
                _("The REST API and its OpenAPI schema."),
            )
        )
    return render(
        request,
        "home.html",
        {
            "role": role,
            "role_label": Role(role).label if role else "",
            "places": places,
        },
    )


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
