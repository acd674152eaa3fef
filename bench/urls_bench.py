"""The product's URLs plus `bench/minimal/`, the floor the survey page is compared with."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from surveys.pg import server_binding_cursor


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


def one_read(request: HttpRequest) -> HttpResponse:
    """The floor of any page that reads its state: one prepared, one-row read by a unique key
    (the same kind of statement as the survey page's, on the same cursor), then "ok". For
    information beside the page's GET, which also renders its screen."""
    if connection.vendor == "postgresql":
        with server_binding_cursor() as cursor:
            cursor.execute(READ_STATEMENT, ["bench"], prepare=True)
            cursor.fetchone()
    return HttpResponse("ok")


READ_STATEMENT = "SELECT id FROM bench_read WHERE key = %s"

urlpatterns = [
    path("bench/minimal/", minimal),
    path("bench/read/", one_read),
    path("bench/write/", durable_write),
    path("", include("config.urls")),
]
