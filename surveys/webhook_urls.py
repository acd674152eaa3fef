"""Routes mounted at the site root: Twilio's webhooks and the development outbox."""

from __future__ import annotations

from django.urls import path

from surveys import staff_views, webhooks

urlpatterns = [
    path("twilio/sms/status/", webhooks.sms_status, name="twilio-sms-status"),
    path("twilio/sms/inbound/", webhooks.sms_inbound, name="twilio-sms-inbound"),
    path("outbox/", staff_views.outbox, name="sms-outbox"),
]
