"""What a provider error means for an invitation: a table in settings (SMS_ERROR_ACTIONS), not
a chain of ifs, because Twilio keeps splitting its codes and counsel may want other actions."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import mail_admins
from django.db import transaction

from surveys.channels.sms import template_for
from surveys.models import (
    Invitation,
    InvitationStatus,
    OptOutEvent,
    SmsKind,
    SmsMessage,
    SmsStatus,
    SmsTemplate,
)

logger = logging.getLogger(__name__)


def error_action(code: int | None) -> str:
    if code is None:
        return ""
    return str(settings.SMS_ERROR_ACTIONS.get(int(code), ""))


def delivery_error_apply(*, message: SmsMessage, code: int | None, now: dt.datetime) -> str:
    """Apply the configured action for a failed message; returns the action taken.

    The invitation's fate follows its invitation message only: a reminder that fails leaves
    the invitation (already sent, perhaps answered) as it is, whatever the error.
    """
    from surveys.dispatch import invitation_next_send_time, invitation_to_cati
    from surveys.optouts import opt_out_record

    action = error_action(code)
    invitation = message.invitation if message.kind == SmsKind.INVITATION else None
    if action == "opt_out":
        opt_out_record(
            phone_e164=message.to,
            source=OptOutEvent.Source.PROVIDER,
            detail=f"Twilio error {code}",
            now=now,
        )
        if invitation is not None:
            _set_status(invitation, InvitationStatus.CANCELLED)
    elif action == "invalid_number":
        if invitation is not None:
            _set_status(invitation, InvitationStatus.FAILED)
    elif action == "cati":
        if invitation is not None:
            moved = invitation_to_cati(
                invitation_id=invitation.pk,
                now=now,
                from_statuses=[
                    InvitationStatus.SENDING,
                    InvitationStatus.SENT,
                    InvitationStatus.SCHEDULED,
                ],
            )
            if not moved:
                _set_status(invitation, InvitationStatus.FAILED)
    elif action == "retry_once":
        if invitation is not None and not message.retried:
            later = invitation_next_send_time(
                invitation, after=now + dt.timedelta(hours=settings.SMS_RETRY_ONCE_DELAY_HOURS)
            )
            if later is not None:
                # The same message row is sent again once (attempts counts it), when the
                # dispatcher claims the invitation at `later`, inside the window.
                with transaction.atomic():
                    SmsMessage.objects.filter(pk=message.pk).update(
                        status=SmsStatus.PENDING,
                        retried=True,
                        provider_sid=None,
                        sending_started_at=None,
                        next_attempt_at=None,
                    )
                    Invitation.objects.filter(
                        pk=invitation.pk,
                        status__in=[InvitationStatus.SENDING, InvitationStatus.SENT],
                    ).update(status=InvitationStatus.SCHEDULED, send_after=later)
                return action
        if invitation is not None:
            _set_status(invitation, InvitationStatus.FAILED)
    elif action == "pause_template":
        template = None
        if message.invitation is not None:
            # The very text that was sent: the client's own, else the shipped default (or the
            # English one when the language has none), as `template_for` chose it.
            template = template_for(
                client_id=message.invitation.client_id,
                kind=message.kind,
                language=message.invitation.language,
                cache=None,
            )
        if template is not None:
            SmsTemplate.objects.filter(pk=template.pk).update(
                paused=True, paused_reason=f"Filtered by the carrier (error {code})"
            )
        if invitation is not None:
            _set_status(invitation, InvitationStatus.FAILED)
        logger.error("SMS %s filtered by the carrier (error %s): template paused", message.pk, code)
        mail_admins(
            "SMS template paused: filtered by the carrier",
            f"Message {message.pk} was filtered (Twilio error {code}). The template "
            f"{template or ''} is paused until an administrator reviews it in admin "
            "(SMS templates).",
            fail_silently=True,
        )
    elif invitation is not None:
        _set_status(invitation, InvitationStatus.FAILED)
    return action


def _set_status(invitation: Invitation, status: str) -> None:
    Invitation.objects.filter(pk=invitation.pk).exclude(
        status__in=[InvitationStatus.COMPLETED, InvitationStatus.PARTIAL]
    ).update(status=status)
