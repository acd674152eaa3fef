"""The agency's back office for surveys: texts, policies, and read-mostly views of what the
product did (invitations, messages, webhooks, opt-outs, responses, CATI).

Same access rule as the collection data (collections_link.admin): agency admins manage,
supervisors read. Two exceptions: supervisors decide review items (free text that sounds like
"stop writing to me"), and nobody edits what the product recorded. SMS templates and policies
are checked when saved, with messages saying what to fix. Lists mask phone numbers.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from collections_link.admin import AgencyAdmin
from collections_link.models import mask_phone
from collections_link.roles import is_agency_staff
from surveys.inbound import review_resolve
from surveys.models import (
    CallAttempt,
    CatiCase,
    Disposition,
    InboundMessage,
    Invitation,
    OptOut,
    OptOutEvent,
    Policy,
    Response,
    ReviewItem,
    SmsMessage,
    SmsTemplate,
    StatusEvent,
    Survey,
    SurveyVersion,
)
from surveys.policies import policy_cache_clear, policy_validate
from surveys.templates_check import template_validate

if TYPE_CHECKING:
    _TabularInline = admin.TabularInline[Any, Any]
else:
    _TabularInline = admin.TabularInline


class RecordAdmin(AgencyAdmin):
    """What the product recorded: staff read it, nobody edits or deletes it here."""

    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def action_checkbox(self, obj: Any) -> SafeString:
        # Django labels the checkbox with str(obj), which for these rows holds the full phone
        # number; the list must show only the masked one.
        attrs = {
            "class": "action-select",
            "aria-label": f"Select {obj._meta.verbose_name} {obj.pk} for an action",
        }
        checkbox = forms.CheckboxInput(attrs, lambda value: False)
        return checkbox.render(helpers.ACTION_CHECKBOX_NAME, str(obj.pk))


# --- texts and policies --------------------------------------------------------------------


class SmsTemplateForm(forms.ModelForm):
    class Meta:
        model = SmsTemplate
        fields = ("client", "kind", "language", "body", "paused", "paused_reason")
        widgets = {"body": forms.Textarea(attrs={"rows": 4, "cols": 80})}
        help_texts = {
            "body": "Put {link} where the survey link goes. One SMS: at most 160 GSM-7 "
            "characters counted with the real link; no amounts, creditor names or words about "
            "debt; an opt-out line (e.g. STOP per non ricevere SMS).",
        }

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        body, language = cleaned.get("body"), cleaned.get("language")
        if body and language:
            try:
                template_validate(
                    body=body,
                    client=cleaned.get("client"),
                    language=language,
                    kind=cleaned.get("kind") or "invitation",
                )
            except ValidationError as exc:
                self.add_error("body", exc)
        return cleaned


@admin.register(SmsTemplate)
class SmsTemplateAdmin(AgencyAdmin):
    form = SmsTemplateForm
    list_display = ("kind", "language", "client_label", "body", "paused", "updated_at")
    list_filter = ("kind", "language", "paused", "client")
    search_fields = ("body", "client__name")
    list_select_related = ("client",)
    autocomplete_fields = ("client",)
    actions = ("resume",)

    @admin.display(description="client", ordering="client__name")
    def client_label(self, obj: SmsTemplate) -> str:
        return str(obj.client) if obj.client else "Default (every client)"

    @admin.action(
        description="Resume the selected templates (after fixing the text)", permissions=["change"]
    )
    def resume(self, request: HttpRequest, queryset: QuerySet[SmsTemplate]) -> None:
        resumed = queryset.filter(paused=True).update(paused=False, paused_reason="")
        self.message_user(request, f"{resumed} template(s) resumed.")


class PolicyForm(forms.ModelForm):
    class Meta:
        model = Policy
        fields = (
            "client",
            "channels",
            "delay_after_contact",
            "fallback_delay",
            "eligible_outcomes",
            "consent_required_countries",
            "cap_days",
            "sampling_rate",
            "min_per_operator_month",
            "reminder_after",
            "link_lifetime",
            "window_country",
            "window_profile",
            "cati_max_attempts",
            "cati_max_days",
            "cati_min_gap",
            "us_call_ledger",
        )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.errors:
            return cleaned
        # Validate the policy as it would be saved, without touching the instance yet.
        candidate = copy.copy(self.instance)
        for name, value in cleaned.items():
            setattr(candidate, name, value)
        try:
            policy_validate(candidate)
        except ValidationError as exc:
            fields = set(self.fields)
            for field, problems in exc.message_dict.items():
                self.add_error(field if field in fields else None, problems)
        return cleaned


@admin.register(Policy)
class PolicyAdmin(AgencyAdmin):
    form = PolicyForm
    list_display = (
        "__str__",
        "channels",
        "window_country",
        "cap_days",
        "sampling_rate",
        "reminder_after",
        "updated_at",
    )
    list_select_related = ("client",)
    autocomplete_fields = ("client",)

    def save_model(self, request: HttpRequest, obj: Policy, form: Any, change: Any) -> None:
        super().save_model(request, obj, form, change)
        # This process applies the change at once; others within the policy cache's lifetime.
        policy_cache_clear()


class _RecordInline(_TabularInline):
    """A history shown under its parent: agency staff read it, nobody edits it here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_agency_staff(request.user)


class SurveyVersionInline(_RecordInline):
    model = SurveyVersion
    extra = 0
    fields = ("number", "created_at")
    readonly_fields = ("number", "created_at")
    show_change_link = True


@admin.register(Survey)
class SurveyAdmin(AgencyAdmin):
    list_display = ("name", "client", "created_at")
    list_select_related = ("client",)
    search_fields = ("name", "client__name")
    autocomplete_fields = ("client",)
    inlines = (SurveyVersionInline,)


@admin.register(SurveyVersion)
class SurveyVersionAdmin(RecordAdmin):
    """Versions are frozen: an answer keeps the wording it answered."""

    list_display = ("survey", "number", "created_at")
    list_select_related = ("survey__client",)


# --- invitations and messages --------------------------------------------------------------


@admin.register(Invitation)
class InvitationAdmin(RecordAdmin):
    list_display = (
        "pk",
        "client",
        "phone",
        "language",
        "status",
        "suppression_reason",
        "channel",
        "send_after",
        "sent_at",
        "answered_at",
    )
    # The counts beside each filter show at a glance how many were suppressed, and why.
    list_filter = ("status", "suppression_reason", "channel", "language", "client")
    show_facets = admin.ShowFacets.ALWAYS
    search_fields = ("=phone_e164", "contact__ref", "debtor__ref")
    date_hierarchy = "created_at"
    list_select_related = ("client",)
    # The token is the debtor's key to the survey: not shown to anyone.
    exclude = ("token",)

    @admin.display(description="phone", ordering="phone_e164")
    def phone(self, obj: Invitation) -> str:
        return mask_phone(obj.phone_e164)


@admin.register(SmsMessage)
class SmsMessageAdmin(RecordAdmin):
    list_display = (
        "pk",
        "kind",
        "recipient",
        "status",
        "backend",
        "error_code",
        "attempts",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "kind", "backend", "error_code")
    search_fields = ("=to", "=provider_sid")
    date_hierarchy = "created_at"
    raw_id_fields = ("invitation",)

    @admin.display(description="to", ordering="to")
    def recipient(self, obj: SmsMessage) -> str:
        return mask_phone(obj.to)


class OptOutEventInline(_RecordInline):
    model = OptOutEvent
    extra = 0
    fields = ("at", "opted_out", "source", "detail")
    readonly_fields = fields
    ordering = ("-at",)


@admin.register(OptOut)
class OptOutAdmin(RecordAdmin):
    list_display = ("phone", "active", "confirmation_sent", "updated_at")
    list_filter = ("active", "confirmation_sent")
    search_fields = ("=phone_e164",)
    inlines = (OptOutEventInline,)

    @admin.display(description="phone", ordering="phone_e164")
    def phone(self, obj: OptOut) -> str:
        return mask_phone(obj.phone_e164)


@admin.register(InboundMessage)
class InboundMessageAdmin(RecordAdmin):
    list_display = ("received_at", "sender", "kind", "body", "invitation", "processed_at")
    list_filter = ("kind",)
    search_fields = ("=from_number", "=message_sid")
    date_hierarchy = "received_at"
    raw_id_fields = ("invitation",)

    @admin.display(description="from", ordering="from_number")
    def sender(self, obj: InboundMessage) -> str:
        return mask_phone(obj.from_number)


@admin.register(StatusEvent)
class StatusEventAdmin(RecordAdmin):
    list_display = ("message_sid", "status", "error_code", "received_at", "processed_at")
    list_filter = ("status", "error_code")
    search_fields = ("=message_sid",)
    date_hierarchy = "received_at"


@admin.register(ReviewItem)
class ReviewItemAdmin(RecordAdmin):
    """Free text that sounds like "stop writing to me". A supervisor reads it and either opts
    the number out (for every client, with one confirmation) or dismisses it."""

    list_display = ("created_at", "sender", "text", "state", "resolved_by", "resolved_at")
    list_filter = ("state",)
    search_fields = ("=inbound__from_number",)
    list_select_related = ("inbound", "resolved_by")
    actions = ("opt_out_number", "dismiss")
    fields = ("text", "inbound", "state", "created_at", "resolved_at", "resolved_by")
    readonly_fields = fields

    @admin.display(description="from", ordering="inbound__from_number")
    def sender(self, obj: ReviewItem) -> str:
        return mask_phone(obj.inbound.from_number)

    @admin.display(description="message")
    def text(self, obj: ReviewItem) -> str:
        return obj.inbound.body

    def has_review_permission(self, request: HttpRequest) -> bool:
        return is_agency_staff(request.user)

    @admin.action(description="Opt out this number (every client)", permissions=["review"])
    def opt_out_number(self, request: HttpRequest, queryset: QuerySet[ReviewItem]) -> None:
        self._decide(request, queryset, opt_out=True)

    @admin.action(description="Dismiss (not a request to stop)", permissions=["review"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet[ReviewItem]) -> None:
        self._decide(request, queryset, opt_out=False)

    def _decide(
        self, request: HttpRequest, queryset: QuerySet[ReviewItem], *, opt_out: bool
    ) -> None:
        decided = sum(
            review_resolve(review_id=pk, opt_out=opt_out, user_id=request.user.pk)
            for pk in queryset.values_list("pk", flat=True)
        )
        skipped = queryset.count() - decided
        verb = "opted out" if opt_out else "dismissed"
        self.message_user(request, f"{decided} item(s) {verb}.")
        if skipped:
            self.message_user(
                request, f"{skipped} item(s) were already decided.", level=messages.WARNING
            )


@admin.register(Response)
class ResponseAdmin(RecordAdmin):
    list_display = (
        "pk",
        "client",
        "operator",
        "channel",
        "score",
        "complete",
        "answered_at",
        "language",
    )
    list_filter = ("channel", "complete", "language", "client")
    search_fields = ("contact__ref", "operator__ref")
    date_hierarchy = "answered_at"
    list_select_related = ("client", "operator")
    raw_id_fields = ("invitation", "contact", "operator", "caller")


# --- CATI ----------------------------------------------------------------------------------


@admin.register(Disposition)
class DispositionAdmin(AgencyAdmin):
    list_display = (
        "label",
        "code",
        "aapor_code",
        "aapor_class",
        "final",
        "opt_out",
        "retry_after",
        "shortcut",
        "order",
    )
    list_filter = ("aapor_class", "final", "opt_out")


class CallAttemptInline(_RecordInline):
    model = CallAttempt
    extra = 0
    fields = ("started_at", "ended_at", "caller", "disposition", "note", "lease_lost")
    readonly_fields = fields


@admin.register(CatiCase)
class CatiCaseAdmin(RecordAdmin):
    list_display = (
        "pk",
        "client",
        "status",
        "due_at",
        "callback_at",
        "attempts",
        "held_by",
        "final_disposition",
    )
    list_filter = ("status", "client", "final_disposition")
    list_select_related = ("client", "held_by", "final_disposition")
    raw_id_fields = ("invitation",)
    inlines = (CallAttemptInline,)


@admin.register(CallAttempt)
class CallAttemptAdmin(RecordAdmin):
    list_display = ("case", "caller", "started_at", "ended_at", "disposition", "lease_lost")
    list_filter = ("disposition", "lease_lost")
    list_select_related = ("caller", "disposition")
    date_hierarchy = "started_at"
    raw_id_fields = ("case",)
