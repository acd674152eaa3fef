"""The back office: every page loads, search finds things, phones stay masked in lists, lists
cost a bounded number of queries, and access follows the roles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as HttpClient
from django.urls import reverse

from collections_link.models import (
    Client,
    ConsentRecord,
    Debtor,
    ImportRun,
    Membership,
    OperatorAssignment,
    Role,
)
from tests.factories import (
    AccountFactory,
    ClientFactory,
    ContactFactory,
    DebtorFactory,
    OperatorFactory,
    PaymentFactory,
    PromiseFactory,
    UserFactory,
    user_with_role,
)

UTC = dt.UTC
GIULIA_PHONE = "+393331234567"

MODELS = [
    "collections_link_client",
    "collections_link_operator",
    "collections_link_operatorassignment",
    "collections_link_debtor",
    "collections_link_account",
    "collections_link_contact",
    "collections_link_consentrecord",
    "collections_link_promise",
    "collections_link_payment",
    "collections_link_importrun",
    "collections_link_membership",
    "auth_user",
]


def build(client: Client, rows: int) -> None:
    """`rows` of everything for one client."""
    prefix = client.ref
    for i in range(rows):
        operator = OperatorFactory.create(
            ref=f"{prefix}-op-{i}", name=f"Operator {i}", client=client
        )
        OperatorAssignment.objects.create(
            operator=operator, client=client, started_at=dt.datetime(2026, 1, 1, tzinfo=UTC)
        )
        debtor = DebtorFactory.create(client=client, ref=f"{prefix}-D{i}")
        account = AccountFactory.create(client=client, ref=f"{prefix}-A{i}", debtor=debtor)
        contact = ContactFactory.create(
            client=client, ref=f"{prefix}-K{i}", account=account, operator=operator
        )
        PromiseFactory.create(contact=contact, account=account)
        ConsentRecord.objects.create(
            debtor=debtor,
            contact=contact,
            operator=operator,
            given=True,
            captured_at=contact.started_at,
            channel=contact.channel,
            wording_version="it-v1",
        )
        paid = PaymentFactory.create(client=client, ref=f"{prefix}-P{i}", account=account)
        PaymentFactory.create(
            client=client, ref=f"{prefix}-R{i}", account=account, reversal_of=paid
        )
        ImportRun.objects.create(
            feed=ImportRun.Feed.CONTACTS,
            source=f"contacts-{prefix}-{i}.csv",
            rows_read=3,
            created=2,
            rejected=1,
            errors=[{"line": 3, "column": "outcome", "reason": "unknown outcome 'maybe'"}],
        )
        user_with_role(f"{prefix}-viewer-{i}", Role.CLIENT_VIEWER, client)


def beta() -> Client:
    return ClientFactory.create(
        ref="beta-telco", name="Beta Telco", country="ES", default_language="es"
    )


@pytest.fixture
def data(db: None) -> None:
    build(ClientFactory.create(), rows=3)
    build(beta(), rows=1)
    DebtorFactory.create(client=ClientFactory.create(), ref="GIULIA-D", phone_e164=GIULIA_PHONE)


@pytest.fixture
def admin_client(db: None) -> HttpClient:
    http = HttpClient()
    http.force_login(
        get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-boss-12345")
    )
    return http


@pytest.mark.parametrize("model", MODELS)
def test_every_list_and_change_page_loads(data, admin_client, model: str) -> None:
    response = admin_client.get(reverse(f"admin:{model}_changelist"))
    assert response.status_code == 200
    first = response.context["cl"].result_list[0]
    change = admin_client.get(reverse(f"admin:{model}_change", args=[first.pk]))
    assert change.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_list_pages_cost_the_same_few_queries_however_long(
    db: None, admin_client, model: str, django_assert_max_num_queries
) -> None:
    build(ClientFactory.create(), rows=2)
    url = reverse(f"admin:{model}_changelist")
    admin_client.get(url)  # warm the session and content-type caches
    with django_assert_max_num_queries(9) as short:
        before = len(admin_client.get(url).context["cl"].result_list)
    # Many more rows on the page must not add a query per row.
    build(beta(), rows=20)
    with django_assert_max_num_queries(len(short.captured_queries)):
        after = len(admin_client.get(url).context["cl"].result_list)
    assert after > before >= 1


def test_debtor_list_masks_the_phone_and_the_change_page_shows_it(data, admin_client) -> None:
    page = admin_client.get(reverse("admin:collections_link_debtor_changelist")).content.decode()
    assert "GIULIA-D" in page
    assert "+39 ••• ••• 4567" in page
    assert GIULIA_PHONE not in page
    debtor = Debtor.objects.get(ref="GIULIA-D")
    change = admin_client.get(reverse("admin:collections_link_debtor_change", args=[debtor.pk]))
    assert GIULIA_PHONE in change.content.decode()


@pytest.mark.parametrize(
    ("model", "query", "found", "not_found"),
    [
        ("collections_link_debtor", "acme-energia-D1", "acme-energia-D1", "acme-energia-D2"),
        # An exact phone number finds its debtor (the list still shows it masked).
        ("collections_link_debtor", GIULIA_PHONE, "GIULIA-D", "acme-energia-D0"),
        ("collections_link_account", "beta-telco-A0", "beta-telco-A0", "acme-energia-A0"),
        ("collections_link_contact", "acme-energia-K2", "acme-energia-K2", "acme-energia-K1"),
        ("collections_link_payment", "acme-energia-R1", "acme-energia-R1", "acme-energia-P2"),
        ("collections_link_operator", "beta-telco-op-0", "beta-telco-op-0", "acme-energia-op-0"),
        ("collections_link_client", "Beta", "beta-telco", "Acme Energia"),
        (
            "collections_link_importrun",
            "contacts-beta",
            "contacts-beta-telco-0.csv",
            "acme-energia",
        ),
        ("collections_link_membership", "beta-telco-viewer", "beta-telco-viewer-0", "acme-energia"),
        ("auth_user", "acme-energia-viewer-2", "acme-energia-viewer-2", "viewer-1"),
    ],
)
def test_search(data, admin_client, model: str, query: str, found: str, not_found: str) -> None:
    url = reverse(f"admin:{model}_changelist")
    response = admin_client.get(url, {"q": query})
    page = response.content.decode()
    assert response.context["cl"].result_count == 1
    assert found in page
    assert not_found not in page


def test_filters_narrow_the_lists(data, admin_client) -> None:
    reversals = admin_client.get(
        reverse("admin:collections_link_payment_changelist"), {"kind": "reversal"}
    )
    refs = {p.ref for p in reversals.context["cl"].result_list}
    assert refs == {"acme-energia-R0", "acme-energia-R1", "acme-energia-R2", "beta-telco-R0"}
    beta = ClientFactory.create(ref="beta-telco")
    accounts = admin_client.get(
        reverse("admin:collections_link_account_changelist"), {"client__id__exact": beta.pk}
    )
    assert [a.ref for a in accounts.context["cl"].result_list] == ["beta-telco-A0"]


def test_account_list_shows_collected_net_of_reversals(data, admin_client) -> None:
    url = reverse("admin:collections_link_account_changelist")
    # The built accounts each have one 50.00 payment and its reversal: nothing collected.
    (account,) = admin_client.get(url, {"q": "acme-energia-A0"}).context["cl"].result_list
    assert account.collected_net == Decimal("0.00")
    PaymentFactory.create(
        client=ClientFactory.create(), ref="PAID-ONCE", account__ref="PAID-ONCE-A"
    )
    (account,) = admin_client.get(url, {"q": "PAID-ONCE-A"}).context["cl"].result_list
    assert account.collected_net == Decimal("50.00")


def test_import_run_shows_its_rejected_rows_as_a_table(data, admin_client) -> None:
    run = ImportRun.objects.order_by("pk").first()
    assert run is not None
    page = admin_client.get(
        reverse("admin:collections_link_importrun_change", args=[run.pk])
    ).content.decode()
    assert '<table class="import-errors">' in page
    assert "<td>3</td><td>outcome</td><td>unknown outcome &#x27;maybe&#x27;</td>" in page
    # Import runs are written by the importer, never by hand.
    assert admin_client.get(reverse("admin:collections_link_importrun_add")).status_code == 403


def test_operator_page_shows_its_assignment_history(data, admin_client) -> None:
    assignment = OperatorAssignment.objects.select_related("operator").first()
    assert assignment is not None
    page = admin_client.get(
        reverse("admin:collections_link_operator_change", args=[assignment.operator_id])
    ).content.decode()
    assert "assignments-0-started_at" in page


def test_a_role_is_given_on_the_user_page_and_staff_follows_it(db: None, admin_client) -> None:
    acme = ClientFactory.create()
    anna = UserFactory.create(username="anna")
    url = reverse("admin:auth_user_change", args=[anna.pk])
    assert "membership-0-role" in admin_client.get(url).content.decode()
    form = {
        "username": "anna",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
        "membership-TOTAL_FORMS": "1",
        "membership-INITIAL_FORMS": "0",
        "membership-MIN_NUM_FORMS": "0",
        "membership-MAX_NUM_FORMS": "1",
        "membership-0-role": Role.SUPERVISOR,
        "membership-0-client": "",
        "membership-0-user": str(anna.pk),
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.context and response.context["errors"]
    anna.refresh_from_db()
    assert (anna.membership.role, anna.is_staff) == (Role.SUPERVISOR, True)

    # Made a client viewer of Acme: no longer staff.
    form |= {
        "membership-INITIAL_FORMS": "1",
        "membership-0-id": str(anna.membership.pk),
        "membership-0-role": Role.CLIENT_VIEWER,
        "membership-0-client": str(acme.pk),
    }
    assert admin_client.post(url, form).status_code == 302
    anna.refresh_from_db()
    assert (anna.membership.role, anna.membership.client, anna.is_staff) == (
        Role.CLIENT_VIEWER,
        acme,
        False,
    )


def test_a_client_viewer_without_a_client_is_refused_with_a_message(db: None, admin_client) -> None:
    bob = UserFactory.create(username="bob")
    response = admin_client.post(
        reverse("admin:collections_link_membership_add"),
        {"user": str(bob.pk), "role": Role.CLIENT_VIEWER, "client": ""},
    )
    assert response.status_code == 200
    assert "membership_client_iff_viewer" in response.content.decode()
    assert not Membership.objects.filter(user=bob).exists()


def test_supervisors_read_and_only_agency_admins_manage(data) -> None:
    supervisor = user_with_role("sara", Role.SUPERVISOR)
    supervisor.is_staff = True
    supervisor.save()
    http = HttpClient()
    http.force_login(supervisor)
    index = http.get(reverse("admin:index")).content.decode()
    assert "Collection system" in index
    assert reverse("admin:auth_user_changelist") not in index
    assert http.get(reverse("admin:collections_link_debtor_changelist")).status_code == 200
    debtor = Debtor.objects.get(ref="GIULIA-D")
    change = http.get(reverse("admin:collections_link_debtor_change", args=[debtor.pk]))
    # Read-only: the page shows the record without a form to save it.
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert http.get(reverse("admin:collections_link_debtor_add")).status_code == 403
    assert http.get(reverse("admin:auth_user_changelist")).status_code == 403

    admin_user = user_with_role("ada", Role.AGENCY_ADMIN)
    admin_user.is_staff = True
    admin_user.save()
    http.force_login(admin_user)
    assert http.get(reverse("admin:collections_link_debtor_add")).status_code == 200
    assert http.get(reverse("admin:auth_user_changelist")).status_code == 200


@pytest.mark.parametrize("role", [Role.CALLER, Role.CLIENT_VIEWER])
def test_callers_and_client_viewers_never_enter_the_admin(data, role: Role) -> None:
    user = user_with_role(
        f"who-{role}", role, ClientFactory.create() if role == Role.CLIENT_VIEWER else None
    )
    http = HttpClient()
    http.force_login(user)
    response = http.get(reverse("admin:collections_link_debtor_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    # Even marked staff by mistake, they see no collection data.
    user.is_staff = True
    user.save()
    assert http.get(reverse("admin:collections_link_debtor_changelist")).status_code == 403
