"""The analytics API: who may read what, the reasons bad input is refused, paging, and the
same tables as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from types import SimpleNamespace

import pytest
from django.test import Client as WebClient
from rest_framework.authtoken.models import Token

from collections_link.models import Role
from tests.factories import ClientFactory, OperatorFactory, UserFactory, user_with_role
from tests.nps.nps_support import answer_many, invited

UTC = dt.UTC
T = dt.datetime(2026, 3, 10, 10, tzinfo=UTC)
ENDPOINTS = (
    "/api/v1/nps/",
    "/api/v1/nps/rates/",
    "/api/v1/nps/recovery/",
    "/api/v1/nps/payments/",
    "/api/v1/nps/nonresponse/",
)


def with_token(user) -> WebClient:
    token = Token.objects.create(user=user)
    return WebClient(HTTP_AUTHORIZATION=f"Token {token.key}")


@pytest.fixture
def world(db: None) -> SimpleNamespace:
    acme = ClientFactory.create()
    beta = ClientFactory.create(ref="beta-telco", name="Beta Telco")
    giulia = OperatorFactory.create(ref="op-giulia", name="Giulia", client=acme)
    marco = OperatorFactory.create(ref="op-marco", name="Marco", client=acme)
    sara = OperatorFactory.create(ref="op-sara", name="Sara", client=beta)
    # Acme: Giulia 12 answers (P6 Pa3 D3), Marco 10 (P2 Pa4 D4); Beta: Sara 11 (P11).
    answer_many(client=acme, operator=giulia, scores=[10] * 6 + [8] * 3 + [2] * 3, answered_at=T)
    answer_many(client=acme, operator=marco, scores=[9] * 2 + [7] * 4 + [0] * 4, answered_at=T)
    answer_many(client=beta, operator=sara, scores=[10] * 11, answered_at=T)
    invited(client=acme, operator=giulia, contact_at=T - dt.timedelta(days=20))
    return SimpleNamespace(
        acme=acme,
        beta=beta,
        staff=with_token(user_with_role("sofia", Role.SUPERVISOR)),
        viewer=with_token(user_with_role("anna", Role.CLIENT_VIEWER, acme)),
        caller=with_token(user_with_role("carlo", Role.CALLER)),
        nobody=with_token(UserFactory.create(username="nemo")),
    )


def test_nps_rows_for_agency_staff(world):
    body = world.staff.get("/api/v1/nps/", {"group_by": "operator"}).json()
    assert body["group_by"] == ["operator"]
    assert [
        (r["operator"], r["operator_name"], r["n"], r["promoters"], r["state"])
        for r in body["results"]
    ] == [
        ("op-giulia", "Giulia", 12, None, "shrunk_only"),
        ("op-marco", "Marco", 10, None, "shrunk_only"),
        ("op-sara", "Sara", 11, None, "shrunk_only"),
    ]
    giulia = body["results"][0]
    # shrunk_only: no raw score (nor the counts that would give it away), the shrunken one
    # with its credible interval.
    assert giulia["nps"] is None and giulia["ci_low"] is None
    assert (giulia["promoters"], giulia["passives"], giulia["detractors"]) == (None, None, None)
    assert giulia["shrunk_low"] < giulia["shrunk_nps"] < giulia["shrunk_high"]
    one = world.staff.get(
        "/api/v1/nps/",
        {
            "client": "acme-energia",
            "channel": "web",
            "contact_type": "phone",
            "from": "2026-03-01",
            "to": "2026-03-31",
            "group_by": "client,month",
        },
    ).json()["results"]
    # Acme: P 8, Pa 7, D 7, n 22 -> 100 x 1 / 22 = 4.55
    assert [(r["client"], r["month"], r["n"], r["nps"]) for r in one] == [
        ("acme-energia", "2026-03-01", 22, 4.55)
    ]


def test_client_viewer_sees_only_their_client(world):
    rows = world.viewer.get("/api/v1/nps/", {"group_by": "client"}).json()["results"]
    assert [r["client"] for r in rows] == ["acme-energia"]
    rates = world.viewer.get("/api/v1/nps/rates/", {"group_by": "client"}).json()["results"]
    assert [r["client"] for r in rates] == ["acme-energia"]
    recovery = world.viewer.get("/api/v1/nps/recovery/").json()
    assert recovery["client"] == "acme-energia"
    assert {p["operator_ref"] for p in recovery["points"]} == {"op-giulia", "op-marco"}
    payments = world.viewer.get("/api/v1/nps/payments/").json()["results"]
    assert sum(r["responses"] for r in payments) == 22
    nonresponse = world.viewer.get("/api/v1/nps/nonresponse/").json()
    assert nonresponse["client"] == "acme-energia"
    assert {r["operator_ref"] for r in nonresponse["results"]} == {None, "op-giulia", "op-marco"}


@pytest.mark.parametrize("url", ENDPOINTS)
def test_another_clients_data_is_not_found(world, url):
    # Exactly the answer a reference that does not exist gets: nothing about Beta leaks.
    for kind, ref, ghost in (("client", "beta-telco", "zeta-gas"), ("operator", "op-sara", "op-x")):
        seen = world.viewer.get(url, {kind: ref})
        unseen = world.viewer.get(url, {kind: ghost})
        assert seen.status_code == unseen.status_code == 404, (url, kind)
        assert seen.json()["detail"].replace(ref, ghost) == unseen.json()["detail"]
    assert world.staff.get(url, {"client": "no-such-client"}).status_code == 404


@pytest.mark.parametrize("url", ENDPOINTS)
def test_callers_strangers_and_anonymous_are_refused(world, url):
    assert world.caller.get(url).status_code == 403
    assert world.nobody.get(url).status_code == 403
    assert WebClient().get(url).status_code == 401


def test_session_login_works_too(world):
    web = WebClient()
    web.force_login(user_with_role("anna", Role.CLIENT_VIEWER, world.acme))
    assert web.get("/api/v1/nps/", {"group_by": "client"}).status_code == 200


@pytest.mark.parametrize(
    ("params", "parameter", "says"),
    [
        ({"group_by": "debtor"}, "group_by", "allowed: client, operator, channel, contact_type"),
        ({"group_by": "week,month"}, "group_by", "one period"),
        ({"group_by": "client,client"}, "group_by", "twice"),
        ({"from": "2026-03-31", "to": "2026-03-01"}, "from", "is after"),
        ({"from": "2026-13-01"}, "from", "YYYY-MM-DD"),
        ({"to": "01/03/2026"}, "to", "YYYY-MM-DD"),
        ({"limit": "1000000"}, "limit", "from 1 to 1,000"),
        ({"limit": "0"}, "limit", "from 1 to 1,000"),
        ({"limit": "ten"}, "limit", "whole number"),
        ({"offset": "-1"}, "offset", "whole number"),
        ({"channel": "fax"}, "channel", "allowed: web, sms_reply, cati"),
        ({"contact_type": "email"}, "contact_type", "allowed: phone, home_visit"),
        ({"outcome": "happy"}, "outcome", "unknown outcome"),
    ],
)
def test_bad_input_is_refused_with_the_reason(world, params, parameter, says):
    answer = world.staff.get("/api/v1/nps/", params)
    assert answer.status_code == 400
    body = answer.json()
    assert body["parameter"] == parameter
    assert says in body["detail"]


def test_endpoints_about_one_client_ask_staff_to_name_it(world):
    answer = world.staff.get("/api/v1/nps/recovery/")
    assert answer.status_code == 400 and "one client" in answer.json()["detail"]
    assert world.staff.get("/api/v1/nps/recovery/", {"client": "acme-energia"}).status_code == 200
    assert world.staff.get("/api/v1/nps/payments/", {"days": "400"}).status_code == 400


def test_paging(world):
    first = world.staff.get("/api/v1/nps/", {"group_by": "operator", "limit": "2"}).json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["previous"] is None
    assert "offset=2" in first["next"]
    second = world.staff.get(first["next"]).json()
    assert [r["operator"] for r in second["results"]] == ["op-sara"]
    assert second["next"] is None and "offset" not in second["previous"]


def read_csv(answer) -> list[dict[str, str]]:
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_the_same_table_as_csv(world):
    params = {"group_by": "operator", "limit": "1"}
    json_rows = world.staff.get("/api/v1/nps/", {"group_by": "operator"}).json()["results"]
    csv_rows = read_csv(world.staff.get("/api/v1/nps/", {**params, "format": "csv"}))
    # The export is the whole table, not the page.
    assert [r["operator"] for r in csv_rows] == [r["operator"] for r in json_rows]
    assert list(csv_rows[0])[:6] == [
        "operator",
        "operator_name",
        "n",
        "promoters",
        "passives",
        "detractors",
    ]
    assert csv_rows[0]["n"] == "12" and csv_rows[0]["nps"] == ""
    assert float(csv_rows[0]["shrunk_nps"]) == json_rows[0]["shrunk_nps"]
    by_accept = read_csv(
        world.staff.get("/api/v1/nps/", {"group_by": "operator"}, HTTP_ACCEPT="text/csv")
    )
    assert by_accept == csv_rows
    rates = read_csv(world.viewer.get("/api/v1/nps/rates/", {"format": "csv"}))
    assert rates[0]["cases"] == "23" and "rr1" in rates[0]
    points = read_csv(world.viewer.get("/api/v1/nps/recovery/", {"format": "csv"}))
    assert {p["operator_ref"] for p in points} == {"op-giulia", "op-marco"}
    assert len(read_csv(world.viewer.get("/api/v1/nps/payments/", {"format": "csv"}))) == 3
    bad = world.staff.get("/api/v1/nps/", {"group_by": "debtor", "format": "csv"})
    assert bad.status_code == 400 and "allowed" in bad.content.decode()


def test_schema_documents_the_parameters(world):
    schema = world.staff.get("/api/schema/", {"format": "json"}).json()
    params = {p["name"] for p in schema["paths"]["/api/v1/nps/"]["get"]["parameters"]}
    assert {
        "client",
        "operator",
        "channel",
        "contact_type",
        "from",
        "to",
        "group_by",
        "limit",
        "offset",
        "format",
    } <= params
    assert "/api/v1/nps/rates/" in schema["paths"]
    assert "/api/v1/nps/recovery/" in schema["paths"]


def test_csv_cells_never_run_as_formulas():
    from nps.exports import csv_text

    text = csv_text(
        [{"operator_name": '=HYPERLINK("http://x")', "nps": -20.5, "month": dt.date(2026, 1, 1)}],
        ["operator_name", "nps", "month", "missing"],
    )
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [
        ["operator_name", "nps", "month", "missing"],
        ['\'=HYPERLINK("http://x")', "-20.5", "2026-01-01", ""],
    ]
