"""The agency's back office for the collection data.

Access follows the product's roles, not Django's per-model permissions: agency admins (and
superusers) manage everything, supervisors read everything, and nobody else is staff at all.
Saving a user's membership here keeps `is_staff` in step with the role, so giving someone the
caller or client-viewer role also takes the back office away from them.

Lists join what they show (`list_select_related`) so a page costs the same few queries
whatever its length, and never show a debtor's full phone number: the change page does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from collections_link.models import (
    Account,
    Client,
    ConsentRecord,
    Contact,
    Debtor,
    ImportRun,
    Membership,
    Operator,
    OperatorAssignment,
    Payment,
    Promise,
    Role,
)
from collections_link.roles import is_agency_staff, user_role
from collections_link.selectors import net_collected

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]
    _TabularInline = admin.TabularInline[Any, Any]
    _StackedInline = admin.StackedInline[Any, Any]
    _UserAdminBase = DjangoUserAdmin[Any]
else:
    _ModelAdmin = admin.ModelAdmin
    _TabularInline = admin.TabularInline
    _StackedInline = admin.StackedInline
    _UserAdminBase = DjangoUserAdmin

User = get_user_model()
AGENCY_ROLES = frozenset({Role.AGENCY_ADMIN, Role.SUPERVISOR})


def _manages(request: HttpRequest) -> bool:
    return user_role(request.user) == Role.AGENCY_ADMIN


def _reads(request: HttpRequest) -> bool:
    return is_agency_staff(request.user)


class AgencyAdmin(_ModelAdmin):
    """Agency admins manage, supervisors read.

    The big tables set `show_full_result_count = False`: a filtered list then skips the
    second COUNT(*) over the whole table, which is the slow part of a list of millions."""

    list_per_page = 50

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _reads(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _reads(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _manages(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _manages(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _manages(request)


class _AgencyInlinePermissions:
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _reads(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _manages(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _manages(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _manages(request)


class OpenFilter(admin.SimpleListFilter):
    title = "assignment"
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Current"), ("no", "Ended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in {"yes", "no"}:
            return queryset.filter(ended_at__isnull=self.value() == "yes")
        return queryset


class ReversalFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("payment", "Payments"), ("reversal", "Reversals")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in {"payment", "reversal"}:
            return queryset.filter(reversal_of__isnull=self.value() == "payment")
        return queryset


# --- clients and operators -------------------------------------------------------------------


@admin.register(Client)
class ClientAdmin(AgencyAdmin):
    list_display = ("name", "ref", "country", "default_language", "time_zone", "created_at")
    list_filter = ("country", "default_language")
    search_fields = ("name", "ref")
    prepopulated_fields = {"ref": ("name",)}


class OperatorAssignmentInline(_AgencyInlinePermissions, _TabularInline):
    model = OperatorAssignment
    extra = 0
    fields = ("client", "started_at", "ended_at")
    autocomplete_fields = ("client",)
    ordering = ("-started_at",)


@admin.register(Operator)
class OperatorAdmin(AgencyAdmin):
    list_display = ("name", "ref", "client", "user", "created_at")
    list_filter = ("client",)
    search_fields = ("ref", "name", "user__username")
    list_select_related = ("client", "user")
    autocomplete_fields = ("client",)
    raw_id_fields = ("user",)
    inlines = (OperatorAssignmentInline,)


@admin.register(OperatorAssignment)
class OperatorAssignmentAdmin(AgencyAdmin):
    list_display = ("operator", "client", "started_at", "ended_at")
    list_filter = (OpenFilter, "client")
    search_fields = ("operator__ref", "operator__name")
    date_hierarchy = "started_at"
    list_select_related = ("operator", "client")
    raw_id_fields = ("operator",)
    autocomplete_fields = ("client",)


# --- debtors and accounts --------------------------------------------------------------------


@admin.register(Debtor)
class DebtorAdmin(AgencyAdmin):
    show_full_result_count = False
    # The list shows the masked number only; the full number is on the change page, for the
    # one debtor someone opened on purpose.
    list_display = ("ref", "client", "phone", "country", "region", "language")
    list_filter = ("client", "country", "language")
    # An exact number finds the debtor who is on the line; a fragment finds nothing.
    search_fields = ("ref", "=phone_e164")
    list_select_related = ("client",)
    autocomplete_fields = ("client",)

    @admin.display(description="phone")
    def phone(self, obj: Debtor) -> str:
        return obj.masked_phone


@admin.register(Account)
class AccountAdmin(AgencyAdmin):
    show_full_result_count = False
    list_display = (
        "ref",
        "client",
        "debtor",
        "placed_on",
        "amount_placed",
        "collected",
        "currency",
    )
    list_filter = ("client", "currency")
    search_fields = ("ref", "debtor__ref")
    date_hierarchy = "placed_on"
    list_select_related = ("client", "debtor__client")
    autocomplete_fields = ("client",)
    raw_id_fields = ("debtor",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        # Net of reversals, computed in the list's own query.
        return super().get_queryset(request).annotate(collected_net=net_collected(account="pk"))

    @admin.display(description="collected (net)", ordering="collected_net")
    def collected(self, obj: Account) -> Any:
        return getattr(obj, "collected_net", None)


@admin.register(Contact)
class ContactAdmin(AgencyAdmin):
    show_full_result_count = False
    list_display = (
        "ref",
        "client",
        "account",
        "operator",
        "channel",
        "started_at",
        "outcome",
        "right_party",
        "survey_consent",
        "flags",
    )
    list_filter = ("client", "outcome", "right_party", "channel", "survey_consent")
    search_fields = ("ref", "account__ref", "operator__ref", "operator__name")
    date_hierarchy = "started_at"
    list_select_related = ("client", "account__client", "operator")
    autocomplete_fields = ("client",)
    raw_id_fields = ("account", "operator")


@admin.register(ConsentRecord)
class ConsentRecordAdmin(AgencyAdmin):
    show_full_result_count = False
    list_display = (
        "debtor",
        "contact",
        "operator",
        "given",
        "channel",
        "wording_version",
        "captured_at",
    )
    list_filter = ("given", "channel", "wording_version", "debtor__client")
    search_fields = ("debtor__ref", "contact__ref", "operator__ref")
    date_hierarchy = "captured_at"
    list_select_related = ("debtor__client", "contact__client", "operator")
    raw_id_fields = ("debtor", "contact", "operator")


@admin.register(Promise)
class PromiseAdmin(AgencyAdmin):
    show_full_result_count = False
    list_display = ("contact", "account", "amount", "due_on", "operator")
    list_filter = ("account__client",)
    search_fields = ("contact__ref", "account__ref")
    date_hierarchy = "due_on"
    list_select_related = ("contact__client", "contact__operator", "account__client")
    raw_id_fields = ("contact", "account")

    @admin.display(description="operator", ordering="contact__operator__name")
    def operator(self, obj: Promise) -> Operator:
        return obj.contact.operator


@admin.register(Payment)
class PaymentAdmin(AgencyAdmin):
    show_full_result_count = False
    list_display = ("ref", "client", "account", "paid_at", "amount", "currency", "reversal_of")
    list_filter = (ReversalFilter, "client", "currency")
    search_fields = ("ref", "account__ref")
    date_hierarchy = "paid_at"
    list_select_related = ("client", "account__client", "reversal_of__client")
    autocomplete_fields = ("client",)
    raw_id_fields = ("account", "reversal_of")


# --- imports ---------------------------------------------------------------------------------


@admin.register(ImportRun)
class ImportRunAdmin(AgencyAdmin):
    """Read-only: an import run is the record of what a feed did, written by the importer."""

    list_display = (
        "started_at",
        "feed",
        "source",
        "rows_read",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "user",
        "finished_at",
    )
    list_filter = ("feed",)
    search_fields = ("source",)
    date_hierarchy = "started_at"
    list_select_related = ("user",)
    fields = (
        "feed",
        "source",
        "user",
        "started_at",
        "finished_at",
        ("rows_read", "created", "updated", "unchanged", "rejected"),
        "errors_table",
    )
    readonly_fields = (
        "feed",
        "source",
        "user",
        "started_at",
        "finished_at",
        "rows_read",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "errors_table",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="rejected rows")
    def errors_table(self, obj: ImportRun) -> SafeString | str:
        errors = obj.errors if isinstance(obj.errors, list) else []
        if not errors:
            return "None"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (e.get("line", ""), e.get("column", ""), e.get("reason", ""))
                for e in errors
                if isinstance(e, dict)
            ),
        )
        return format_html(
            '<table class="import-errors"><thead><tr><th>Line</th><th>Column</th>'
            "<th>Reason</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )


# --- people and roles ------------------------------------------------------------------------


def staff_follows_role(user_id: int) -> bool | None:
    """Make `is_staff` true exactly for superusers, agency admins and supervisors. Returns the
    new value when it changed, None otherwise."""
    user = User.objects.get(pk=user_id)
    membership = Membership.objects.filter(user_id=user_id).first()
    staff = bool(user.is_superuser) or (membership is not None and membership.role in AGENCY_ROLES)
    if user.is_staff == staff:
        return None
    User.objects.filter(pk=user_id).update(is_staff=staff)
    return staff


def _tell_about_staff(request: HttpRequest, user: Any, staff: bool | None) -> None:
    if staff is None:
        return
    if staff:
        messages.info(request, f"{user} can now use the administration (agency role).")
    else:
        messages.warning(
            request, f"{user} is no longer staff: only agency admins and supervisors are."
        )


@admin.register(Membership)
class MembershipAdmin(AgencyAdmin):
    list_display = ("user", "role", "client")
    list_filter = ("role", "client")
    search_fields = ("user__username", "user__email", "client__name", "client__ref")
    list_select_related = ("user", "client")
    raw_id_fields = ("user",)
    autocomplete_fields = ("client",)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: Any) -> None:
        super().save_model(request, obj, form, change)
        _tell_about_staff(request, obj.user, staff_follows_role(obj.user_id))


class MembershipInline(_AgencyInlinePermissions, _StackedInline):
    model = Membership
    can_delete = True
    extra = 1
    max_num = 1
    fields = ("role", "client")
    autocomplete_fields = ("client",)
    verbose_name_plural = "role"


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(_UserAdminBase):
    """Django's user admin, with the user's role (and client) on the same page. Only agency
    admins manage users; supervisors do not see them."""

    inlines = (MembershipInline,)
    list_display = ("username", "email", "role", "client", "is_staff", "is_active", "last_login")
    list_filter = ("membership__role", "is_staff", "is_superuser", "is_active")
    list_select_related = ("membership__client",)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _manages(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _manages(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _manages(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _manages(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _manages(request)

    @admin.display(description="role", ordering="membership__role")
    def role(self, obj: Any) -> str:
        membership = getattr(obj, "membership", None)
        return membership.get_role_display() if membership else "—"

    @admin.display(description="client", ordering="membership__client__name")
    def client(self, obj: Any) -> str:
        membership = getattr(obj, "membership", None)
        return str(membership.client) if membership and membership.client else ""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: Any) -> None:
        super().save_related(request, form, formsets, change)
        _tell_about_staff(request, form.instance, staff_follows_role(form.instance.pk))
