from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from collections_link.roles import user_role, visible_clients


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """A landing page that sends each role to its own work."""
    return render(
        request,
        "home.html",
        {"role": user_role(request.user), "clients": visible_clients(request.user)},
    )


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
