"""The analytics REST API, included at /api/v1/ (OpenAPI at /api/schema/)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from nps import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("nps/", api.NpsView.as_view(), name="api-nps"),
    path("nps/rates/", api.RatesView.as_view(), name="api-nps-rates"),
    path("nps/recovery/", api.RecoveryView.as_view(), name="api-nps-recovery"),
    path("nps/payments/", api.PaymentsView.as_view(), name="api-nps-payments"),
    path("nps/nonresponse/", api.NonResponseView.as_view(), name="api-nps-nonresponse"),
]
