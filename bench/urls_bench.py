"""The product's URLs plus `bench/minimal/`, the floor the survey page is compared with."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def minimal(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [
    path("bench/minimal/", minimal),
    path("", include("config.urls")),
]
