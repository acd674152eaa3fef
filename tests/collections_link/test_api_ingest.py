"""The ingest REST API: token or session authentication, agency staff only, the same checks
and reasons as the CSV import, and an OpenAPI schema that documents it."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from collections_link.models import Account, Client, Contact, ImportRun, Role
from tests.collections_link.ingest_support import make_acme, make_luz
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db

ACCOUNT = {
    "client_ref": "acme-energia",
    "account_ref": "A-1",
    "debtor_ref": "C-1",
    "debtor_phone": "+39 333 123 4567",
    "debtor_country": "IT",
    "debtor_language": "it",
    "placed_at": "2026-10-01",
    "amount_placed": "412.80",
    "currency": "EUR",
}


@pytest.fixture(autouse=True)
def clients() -> None:
    make_acme()
    make_luz()


@pytest.fixture
def supervisor() -> APIClient:
    api = APIClient()
    api.force_authenticate(user_with_role("sara", Role.SUPERVISOR))
    return api


def account(**changes: Any) -> dict[str, Any]:
    return {**ACCOUNT, **changes}


def test_a_supervisor_imports_accounts_and_gets_the_summary(supervisor: APIClient) -> None:
    response = supervisor.post(
        "/api/v1/import/accounts/",
        [account(), account(account_ref="A-2", amount_placed=96.1)],
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert {
        k: body[k]
        for k in (
            "feed",
            "rows_read",
            "created",
            "updated",
            "unchanged",
            "rejected_count",
            "rejected",
            "warnings",
        )
    } == {
        "feed": "accounts",
        "rows_read": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected_count": 0,
        "rejected": [],
        "warnings": [],
    }
    assert "note" not in body
    assert Account.objects.get(ref="A-2").amount_placed == Decimal("96.10")
    run = ImportRun.objects.get(pk=body["import_run"])
    assert (run.source, run.user.username) == ("api", "sara")


def test_the_same_rows_twice_change_nothing(supervisor: APIClient) -> None:
    supervisor.post("/api/v1/import/accounts/", [account()], format="json")

    body = supervisor.post("/api/v1/import/accounts/", {"rows": [account()]}, format="json").json()

    assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 1)


def test_a_bad_row_answers_400_with_its_reason_and_the_good_rows_land(
    supervisor: APIClient,
) -> None:
    response = supervisor.post(
        "/api/v1/import/accounts/",
        [
            account(),
            account(account_ref="A-2", debtor_phone="12ab"),
            account(account_ref="A-3", client_ref="nobody"),
        ],
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["rejected"] == [
        {"row": 2, "column": "debtor_phone", "reason": "'12ab' is not a phone number for IT"},
        {
            "row": 3,
            "column": "client_ref",
            "reason": "unknown client 'nobody' (create it first, or import with --create-clients)",
        },
    ]
    assert (body["created"], body["rejected_count"]) == (1, 2)
    assert body["note"].startswith(
        "2 row(s) were rejected and not imported; the other 1 row(s) were imported."
    )
    assert list(Account.objects.values_list("ref", flat=True)) == ["A-1"]


def test_create_clients_is_a_query_parameter(supervisor: APIClient) -> None:
    response = supervisor.post(
        "/api/v1/import/accounts/?create_clients=true", [account(client_ref="nuovo")], format="json"
    )

    assert response.status_code == 200
    assert Client.objects.filter(ref="nuovo").exists()


def test_contacts_and_payments_go_through_their_own_endpoints(supervisor: APIClient) -> None:
    supervisor.post("/api/v1/import/accounts/", [account()], format="json")
    contact = {
        "client_ref": "acme-energia",
        "contact_ref": "K-1",
        "account_ref": "A-1",
        "operator_ref": "op-giulia",
        "operator_name": "Giulia Rossi",
        "channel": "phone",
        "started_at": "2026-11-19T10:12:00+01:00",
        "outcome": "promise_to_pay",
        "promise_amount": 200,
        "promise_due": "2026-11-30",
        "survey_consent": True,
    }
    payment = {
        "client_ref": "acme-energia",
        "payment_ref": "P-1",
        "account_ref": "A-1",
        "paid_at": "2026-11-28T09:00:00+01:00",
        "amount": "200.00",
        "currency": "USD",
    }

    contacts = supervisor.post("/api/v1/import/contacts/", [contact], format="json")
    payments = supervisor.post("/api/v1/import/payments/", [payment], format="json")

    assert contacts.status_code == 200
    k1 = Contact.objects.get(ref="K-1")
    assert (k1.survey_consent, k1.promise.amount) == (True, Decimal("200"))
    assert payments.status_code == 400
    assert payments.json()["rejected"] == [
        {
            "row": 1,
            "column": "currency",
            "reason": "currency USD does not match the account's currency EUR",
        }
    ]


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ({"account_ref": "A-1"}, 'Send a non-empty JSON list of rows, or {"rows": [...]}.'),
        ([], 'Send a non-empty JSON list of rows, or {"rows": [...]}.'),
        (
            [ACCOUNT] * 10_001,
            "At most 10000 rows per request (10001 sent); split them, or import the CSV file.",
        ),
    ],
)
def test_a_body_that_is_not_a_list_of_rows_is_refused(
    supervisor: APIClient, payload: Any, detail: str
) -> None:
    response = supervisor.post("/api/v1/import/accounts/", payload, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert Account.objects.count() == 0


def test_a_row_that_is_not_an_object_is_rejected_alone(supervisor: APIClient) -> None:
    response = supervisor.post("/api/v1/import/accounts/", [account(), "A-2"], format="json")

    assert response.status_code == 400
    assert response.json()["rejected"] == [
        {"row": 2, "column": "", "reason": "each row must be an object"}
    ]
    assert Account.objects.count() == 1


@pytest.mark.parametrize("role", [Role.CALLER, Role.CLIENT_VIEWER])
def test_only_agency_staff_may_import(role: Role) -> None:
    api = APIClient()
    client = Client.objects.get(ref="acme-energia") if role == Role.CLIENT_VIEWER else None
    api.force_authenticate(user_with_role("someone", role, client))

    response = api.post("/api/v1/import/accounts/", [account()], format="json")

    assert response.status_code == 403
    assert Account.objects.count() == 0


def test_anonymous_requests_are_refused() -> None:
    response = APIClient().post("/api/v1/import/accounts/", [account()], format="json")

    assert response.status_code == 401
    assert Account.objects.count() == 0


def test_a_token_from_drf_create_token_authenticates(monkeypatch: pytest.MonkeyPatch) -> None:
    user_with_role("admin-ada", Role.AGENCY_ADMIN)
    out = io.StringIO()

    call_command("drf_create_token", "admin-ada", stdout=out)

    token = out.getvalue().split()[2]
    assert out.getvalue() == f"Generated token {token} for user admin-ada\n"
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.post("/api/v1/import/accounts/", [account()], format="json").status_code == 200
    api.credentials(HTTP_AUTHORIZATION="Token not-the-token")
    assert api.post("/api/v1/import/accounts/", [account()], format="json").status_code == 401


def test_a_logged_in_session_works_too() -> None:
    user = user_with_role("sara", Role.SUPERVISOR)
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(user)

    # Session authentication asks for the CSRF token on a POST, as in a browser.
    assert api.post("/api/v1/import/accounts/", [account()], format="json").status_code == 403
    api.get("/login/")
    api.cookies.load({"csrftoken": "a" * 32})
    response = api.post(
        "/api/v1/import/accounts/", [account()], format="json", HTTP_X_CSRFTOKEN="a" * 32
    )
    assert response.status_code == 200


def test_the_openapi_schema_documents_the_three_imports() -> None:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    for feed in ("accounts", "contacts", "payments"):
        operation = schema["paths"][f"/api/v1/import/{feed}/"]["post"]
        assert operation["operationId"] == f"import_{feed}"
        assert set(operation["responses"]) == {"200", "400", "403"}
    account_row = schema["components"]["schemas"]["AccountRow"]
    assert set(account_row["required"]) == {
        "client_ref",
        "account_ref",
        "debtor_ref",
        "debtor_phone",
        "debtor_country",
        "placed_at",
        "amount_placed",
        "currency",
    }
    summary = schema["components"]["schemas"]["ImportSummary"]["properties"]
    assert {"rows_read", "created", "updated", "unchanged", "rejected_count", "rejected"} <= set(
        summary
    )
