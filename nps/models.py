"""Knowing: the monthly roll-up the dashboards read, and the follow-up cases that close the loop
on detractors."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_link.models import Client, Operator


class NpsRollup(models.Model):
    """Counts per client, operator, response channel, contact channel, contact outcome and
    month: everything the dashboards group by, so a client-year is a few hundred rows instead
    of every response. Each row counts its promoters, passives and detractors, and its answers
    per score (0 to 10). Refreshed incrementally (`nps.rollup.rollup_refresh`)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16)
    contact_channel = models.CharField(max_length=16)
    contact_outcome = models.CharField(max_length=24)
    month = models.DateField(help_text="First day of the month, in the client's time zone.")
    promoters = models.PositiveIntegerField(default=0)
    passives = models.PositiveIntegerField(default=0)
    detractors = models.PositiveIntegerField(default=0)
    # How many answers gave each score, 0 to 10 (the distribution chart): promoters is
    # score_9 + score_10, passives score_7 + score_8, detractors score_0 to score_6.
    score_0 = models.PositiveIntegerField(default=0)
    score_1 = models.PositiveIntegerField(default=0)
    score_2 = models.PositiveIntegerField(default=0)
    score_3 = models.PositiveIntegerField(default=0)
    score_4 = models.PositiveIntegerField(default=0)
    score_5 = models.PositiveIntegerField(default=0)
    score_6 = models.PositiveIntegerField(default=0)
    score_7 = models.PositiveIntegerField(default=0)
    score_8 = models.PositiveIntegerField(default=0)
    score_9 = models.PositiveIntegerField(default=0)
    score_10 = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "client",
                    "operator",
                    "channel",
                    "contact_channel",
                    "contact_outcome",
                    "month",
                ],
                name="nps_rollup_cell",
            ),
        ]
        indexes = [models.Index(fields=["client", "month"])]

    def __str__(self) -> str:
        return f"{self.client_id}/{self.operator_id} {self.month:%Y-%m} {self.channel}"


class RollupState(models.Model):
    """When the roll-up was last refreshed (one row)."""

    refreshed_at = models.DateTimeField(null=True, blank=True)
    high_water = models.DateTimeField(
        null=True, blank=True, help_text="Responses updated before this are in the roll-up."
    )

    def __str__(self) -> str:
        return f"Roll-up refreshed at {self.refreshed_at}"


class FollowUpStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CONTACTED = "contacted", _("Contacted")
    RESOLVED = "resolved", _("Resolved")


class FollowUpCase(models.Model):
    """A detractor's answer, put in front of the client's supervisor: an owner, a due time, a
    status and notes. A follow-up is a human conversation, never another survey."""

    response = models.OneToOneField(
        "surveys.Response", on_delete=models.CASCADE, related_name="follow_up"
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="follow_ups")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
    )
    status = models.CharField(
        max_length=16, choices=FollowUpStatus.choices, default=FollowUpStatus.OPEN
    )
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(
                fields=["client", "due_at"],
                condition=~Q(status="resolved"),
                name="followup_open_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"Follow-up {self.pk} ({self.status})"

    def is_overdue(self, now: dt.datetime | None = None) -> bool:
        return self.status != FollowUpStatus.RESOLVED and self.due_at < (now or timezone.now())


class FollowUpNote(models.Model):
    case = models.ForeignKey(FollowUpCase, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Note on {self.case_id} at {self.created_at:%Y-%m-%d %H:%M}"
