"""The dashboards, mounted at /dashboard/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from django.views.i18n import set_language

from nps import views

app_name = "nps"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("export/<slug:table>.csv", views.agency_export, name="agency-export"),
    # Django's own language switch (POST, keeps a cookie): the dashboards speak it, en, es.
    path("language/", set_language, name="set-language"),
    path("c/<slug:client_ref>/", views.client_dashboard, name="client"),
    path(
        "c/<slug:client_ref>/scores/",
        views.client_dashboard,
        {"section": "scores"},
        name="client-scores",
    ),
    path(
        "c/<slug:client_ref>/recovery/",
        views.client_dashboard,
        {"section": "recovery"},
        name="client-recovery",
    ),
    path(
        "c/<slug:client_ref>/responses/",
        views.client_dashboard,
        {"section": "responses"},
        name="client-responses",
    ),
    path("c/<slug:client_ref>/export/<slug:table>.csv", views.client_export, name="export"),
    path(
        "c/<slug:client_ref>/operators/<str:operator_ref>/",
        views.operator_page,
        name="operator",
    ),
    path("c/<slug:client_ref>/follow-ups/", views.followup_list, name="followups"),
    path("c/<slug:client_ref>/follow-ups/<int:pk>/", views.followup_detail, name="followup"),
]
