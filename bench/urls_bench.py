"""The product's URLs plus `bench/minimal/`, the floor the survey page is compared with."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


def minimal(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@csrf_exempt
def durable_write(request: HttpRequest) -> HttpResponse:
    """The floor of any answer that is kept: one row inserted and committed to disk, in one
    statement (the table is made by bench/survey_page.py). For information beside the page's
    POST, which must also look up the link, check it and write the response and its
    invitation."""
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_write (at) VALUES (now())")
    return HttpResponse("ok", status=303)


urlpatterns = [
    path("bench/minimal/", minimal),
    path("bench/write/", durable_write),
    path("", include("config.urls")),
]
