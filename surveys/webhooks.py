"""Twilio's two webhooks: delivery status and inbound SMS (../DOMAIN.md rule 8).

Each request is checked first: a missing or wrong `X-Twilio-Signature` gets 403 and nothing is
stored. A valid one is stored with one INSERT (deduplicated: inbound on MessageSid, status on
(MessageSid, MessageStatus)), answered at once, and processed by a task queued after commit.
If the broker is down the row is still stored, and the catch-up pass processes it.

The signature covers the URL Twilio called. Behind a TLS proxy the app sees http://internal-host
instead, so by default the URL is rebuilt from PUBLIC_BASE_URL (the same base the status
callback URL is built from). With TWILIO_WEBHOOK_URL_FROM_PUBLIC_BASE = False, the request's
own absolute URL is used instead, which is right behind a proxy only with
SECURE_PROXY_SSL_HEADER and USE_X_FORWARDED_HOST set (BEHIND_TLS_PROXY=1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from surveys import twilio as twilio_api
from surveys.inbound import inbound_record
from surveys.status import status_record

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def public_url(request: HttpRequest) -> str:
    """The URL Twilio signed: the public one, whatever proxy sits in between."""
    if not getattr(settings, "TWILIO_WEBHOOK_URL_FROM_PUBLIC_BASE", True):
        return request.build_absolute_uri()
    url = str(settings.PUBLIC_BASE_URL).rstrip("/") + request.path_info
    query = request.META.get("QUERY_STRING", "")
    return f"{url}?{query}" if query else url


def signature_valid(request: HttpRequest) -> bool:
    signature = request.META.get("HTTP_X_TWILIO_SIGNATURE", "")
    if not signature:
        return False
    try:
        validator = twilio_api.request_validator()
    except ImproperlyConfigured:
        # Fail closed: without the auth token nobody's webhook can be trusted.
        logger.error("Twilio webhook refused: TWILIO_AUTH_TOKEN is not set")
        return False
    return bool(validator.validate(public_url(request), request.POST, signature))


def _queue(task_name: str, row_id: int) -> Callable[[], None]:
    def queue() -> None:
        from surveys import webhook_tasks

        try:
            getattr(webhook_tasks, task_name).delay(row_id)
        except Exception:
            # Broker unreachable (or, in eager mode, the processing failed): the row is stored
            # and unprocessed, and the catch-up pass will process it.
            logger.exception("Could not queue %s(%s); the catch-up pass will", task_name, row_id)

    return queue


@csrf_exempt
@require_POST
def sms_status(request: HttpRequest) -> HttpResponse:
    if not signature_valid(request):
        logger.warning("Twilio status webhook with a bad signature from %s", _peer(request))
        return HttpResponseForbidden("Invalid signature")
    try:
        event, _created = status_record(request.POST)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    if event.processed_at is None:
        # A replay of an unprocessed event queues it again; processing runs once anyway.
        transaction.on_commit(_queue("status_apply_task", event.pk))
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    if not signature_valid(request):
        logger.warning("Twilio inbound webhook with a bad signature from %s", _peer(request))
        return HttpResponseForbidden("Invalid signature")
    try:
        inbound, _created = inbound_record(request.POST)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    if inbound.processed_at is None:
        transaction.on_commit(_queue("inbound_process_task", inbound.pk))
    # An empty TwiML answer: any reply (a confirmation) is sent through the normal send path,
    # where it is recorded, paced and sent at most once.
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


def _peer(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", "?"))
