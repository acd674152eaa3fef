"""The CATI console, mounted at /cati/."""

from __future__ import annotations

from django.urls import path

from surveys import cati_views

app_name = "cati"

urlpatterns = [
    path("", cati_views.console, name="console"),
    path("next/", cati_views.next_call, name="next"),
    path("case/<int:case_id>/", cati_views.case_screen, name="case"),
    path("case/<int:case_id>/answers/", cati_views.record_answers, name="answers"),
    path("case/<int:case_id>/disposition/", cati_views.record_disposition, name="disposition"),
    path("case/<int:case_id>/heartbeat/", cati_views.heartbeat, name="heartbeat"),
    path("case/<int:case_id>/release/", cati_views.release, name="release"),
    path("supervisor/", cati_views.supervisor, name="supervisor"),
]
