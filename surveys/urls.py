"""The surveys app's public URLs, included at the site root by config/urls.py."""

from __future__ import annotations

from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    # The debtor's survey page (the link in the SMS), its thank-you page and the opt-out.
    path("s/<str:token>/", views.survey_page, name="page"),
    path("s/<str:token>/thanks/", views.survey_thanks, name="thanks"),
    path("s/<str:token>/stop/", views.survey_stop, name="stop"),
    # Twilio webhooks (surveys/webhooks.py): twilio/sms/status/, twilio/sms/inbound/.
    # The development SMS outbox (staff): outbox/.
]
