"""Pages for the agency's staff (admins and supervisors) outside the admin."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from collections_link.roles import is_agency_staff
from surveys.outbox import outbox_messages

OUTBOX_PAGE_SIZE = 50


@login_required
def outbox(request: HttpRequest) -> HttpResponse:
    """What the outbox backend "sent", with the survey links clickable, so a demo or a
    developer can follow a message without a phone. Full numbers: agency staff only."""
    if not is_agency_staff(request.user):
        # A 404, not a 403: the page does not exist for anyone else.
        raise Http404("No such page.")
    page = Paginator(outbox_messages(), OUTBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "surveys/outbox.html", {"page": page})
