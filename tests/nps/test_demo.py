"""`manage.py demo`: the synthetic world loads through the ingest, shows every client and
operator, carries the planted operator styles, gives working logins, and loads twice without
changing anything."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    When,
)
from django.test import Client as WebClient

from collections_link.demo_data import (
    CALLER_OPERATOR_REF,
    DEMO_OPERATOR_REFS,
    MOVER_REF,
    NEW_HIRE_REF,
    demo_operators,
    generate,
)
from collections_link.models import (
    PROMISE_OUTCOMES,
    Account,
    Client,
    ConsentRecord,
    Contact,
    Debtor,
    Membership,
    Operator,
    OperatorAssignment,
    Payment,
    Promise,
    Role,
)
from tests.factories import ClientFactory

TODAY = dt.date(2026, 11, 28)
SCALE = "0.05"  # 1,000 accounts: enough for the planted styles to show, quick to load
STYLE = {o.ref: o.style for o in demo_operators(today=TODAY)}


def run_demo(*extra: str, seed: int = 7, scale: str = SCALE) -> str:
    out = io.StringIO()
    call_command(
        "demo",
        "--seed",
        str(seed),
        "--today",
        TODAY.isoformat(),
        "--scale",
        scale,
        "--no-input",
        *extra,
        stdout=out,
    )
    return out.getvalue()


def snapshot() -> dict[str, object]:
    """Row counts and checksums a second load must leave exactly as they were."""
    return {
        "clients": list(Client.objects.order_by("ref").values_list("ref", "name")),
        "operators": list(Operator.objects.order_by("ref").values_list("ref", "client__ref")),
        "assignments": list(OperatorAssignment.objects.order_by("id").values_list(
            "id", "operator__ref", "client__ref", "started_at", "ended_at"
        )),
        "consents": ConsentRecord.objects.aggregate(
            n=Count("id"), yes=Count("id", filter=Q(given=True))
        ),
        "debtors": Debtor.objects.count(),
        "accounts": Account.objects.aggregate(n=Count("id"), s=Sum("amount_placed")),
        "contacts": Contact.objects.aggregate(
            n=Count("id"), rp=Count("id", filter=Q(right_party=True))
        ),
        "promises": Promise.objects.aggregate(n=Count("id"), s=Sum("amount")),
        "payments": Payment.objects.aggregate(n=Count("id"), s=Sum("amount")),
        "memberships": list(Membership.objects.order_by("user__username").values_list(
            "user__username", "role", "client__ref"
        )),
    }  # fmt: skip


@pytest.mark.django_db
def test_the_demo_loads_every_client_and_operator_through_the_ingest() -> None:
    output = run_demo()

    assert sorted(Client.objects.values_list("ref", "name", "country", "time_zone")) == [
        ("acme-energia", "Acme Energia (demo)", "IT", "Europe/Rome"),
        ("luz-norte", "Luz Norte (demo)", "ES", "Europe/Madrid"),
        ("telco-uno", "Telco Uno (demo)", "IT", "Europe/Rome"),
    ]
    assert sorted(Operator.objects.values_list("ref", flat=True)) == sorted(DEMO_OPERATOR_REFS)
    assert len(DEMO_OPERATOR_REFS) == 15
    # 1,000 accounts split 45 / 30 / 25 %.
    per_client = dict(Account.objects.values_list("client__ref").annotate(n=Count("id")).order_by())
    assert per_client == {"acme-energia": 450, "luz-norte": 300, "telco-uno": 250}
    contacts = Contact.objects.count()
    assert 1_700 <= contacts <= 2_400  # about two contacts per account
    shares = Contact.objects.aggregate(
        rp=Count("id", filter=Q(right_party=True)),
        silent=Count("id", filter=Q(outcome__in=["no_answer", "busy", "voicemail"])),
        visits=Count("id", filter=Q(channel="home_visit")),
        flagged=Count("id", filter=~Q(flags="")),
    )
    assert 0.44 <= shares["rp"] / contacts <= 0.56
    assert 0.34 <= shares["silent"] / contacts <= 0.46
    assert 0.06 <= shares["visits"] / contacts <= 0.14
    assert 0.005 <= shares["flagged"] / contacts <= 0.04
    assert Promise.objects.count() > 0.2 * shares["rp"]
    assert Payment.objects.filter(reversal_of__isnull=True).count() > 100
    # Every operator took part, and every contact lies in the 120 days before the date.
    assert set(Contact.objects.values_list("operator__ref", flat=True)) == set(DEMO_OPERATOR_REFS)
    span = Contact.objects.aggregate(first=Min("started_at"), last=Max("started_at"))
    assert span["first"].date() >= TODAY - dt.timedelta(days=120)
    assert span["last"].date() < TODAY
    assert "SYNTHETIC DEMO DATA" in output
    assert "Open http://127.0.0.1:8000/" in output


@pytest.mark.django_db
def test_one_operator_moved_and_one_has_very_few_contacts() -> None:
    run_demo()

    mover = Operator.objects.get(ref=MOVER_REF)
    history = list(mover.assignments.order_by("started_at"))
    assert [(a.client.ref, a.ended_at is None) for a in history] == [
        ("acme-energia", False),
        ("telco-uno", True),
    ]
    assert mover.client.ref == "telco-uno"
    moved_at = history[0].ended_at
    assert history[1].started_at == moved_at
    # Acme contacts before the move, Telco Uno contacts after it, none crossing over.
    mover_contacts = Contact.objects.filter(operator=mover)
    assert mover_contacts.filter(client__ref="acme-energia", started_at__gte=moved_at).count() == 0
    assert mover_contacts.filter(client__ref="telco-uno", started_at__lt=moved_at).count() == 0
    assert mover_contacts.filter(client__ref="acme-energia").exists()
    assert mover_contacts.filter(client__ref="telco-uno").exists()
    assert (
        OperatorAssignment.objects.exclude(operator=mover).filter(ended_at__isnull=False).count()
        == 0
    )

    per_operator = dict(
        Contact.objects.values_list("operator__ref").annotate(n=Count("id")).order_by()
    )
    others = sorted(n for ref, n in per_operator.items() if ref != NEW_HIRE_REF)
    assert 0 < per_operator[NEW_HIRE_REF] < others[len(others) // 2] / 5


@pytest.mark.django_db
def test_empathic_operators_win_more_promises_and_recover_more_than_pushy_ones() -> None:
    run_demo()

    by_style: dict[str, Counter[str]] = defaultdict(Counter)
    rows = (
        Contact.objects.filter(right_party=True)
        .values("operator__ref")
        .annotate(n=Count("id"), promises=Count("id", filter=Q(outcome__in=PROMISE_OUTCOMES)))
    )
    for row in rows:
        style = STYLE[row["operator__ref"]]
        by_style[style]["rp"] += row["n"]
        by_style[style]["promises"] += row["promises"]

    # Recovery on every account, credited to the operator who first called it.
    first_operator = Contact.objects.filter(account=OuterRef("pk")).order_by("started_at")
    net = Sum(
        Case(
            When(payments__reversal_of__isnull=True, then=F("payments__amount")),
            default=-F("payments__amount"),
            output_field=DecimalField(),
        )
    )
    accounts = Account.objects.annotate(
        first_op=Subquery(first_operator.values("operator__ref")[:1]), collected=net
    ).values_list("first_op", "amount_placed", "collected")
    placed: Counter[str] = Counter()
    collected: Counter[str] = Counter()
    for op_ref, amount, got in accounts:
        if op_ref is None:
            continue  # never called yet
        placed[STYLE[op_ref]] += int(amount * 100)
        collected[STYLE[op_ref]] += int((got or Decimal(0)) * 100)

    def promise_rate(style: str) -> float:
        return by_style[style]["promises"] / by_style[style]["rp"]

    def recovery(style: str) -> float:
        return collected[style] / placed[style]

    assert promise_rate("empathic") > promise_rate("neutral") > promise_rate("pushy")
    assert promise_rate("empathic") - promise_rate("pushy") > 0.07
    assert recovery("empathic") > recovery("pushy") + 0.03


@pytest.mark.django_db
def test_the_demo_logins_work_and_carry_their_roles() -> None:
    output = run_demo()

    logins = {
        "admin": "demo-admin",
        "supervisor": "demo-supervisor",
        "caller1": "demo-caller1",
        "caller2": "demo-caller2",
        "viewer-acme": "demo-viewer",
        "viewer-luz": "demo-viewer",
        "viewer-telco": "demo-viewer",
    }
    table = {tuple(line.split()[:2]) for line in output.splitlines()}
    for username, password in logins.items():
        assert WebClient().login(username=username, password=password), username
        assert (username, password) in table  # printed in the logins table
    assert not WebClient().login(username="admin", password="wrong")

    roles = {m.user.username: (m.role, m.client.ref if m.client else None)
             for m in Membership.objects.select_related("user", "client")}  # fmt: skip
    assert roles == {
        "admin": (Role.AGENCY_ADMIN, None),
        "supervisor": (Role.SUPERVISOR, None),
        "caller1": (Role.CALLER, None),
        "caller2": (Role.CALLER, None),
        "viewer-acme": (Role.CLIENT_VIEWER, "acme-energia"),
        "viewer-luz": (Role.CLIENT_VIEWER, "luz-norte"),
        "viewer-telco": (Role.CLIENT_VIEWER, "telco-uno"),
    }
    admin = Membership.objects.get(user__username="admin").user
    assert admin.is_superuser and admin.is_staff
    # One caller is also a collector: the CATI queue must never hand her her own contacts.
    sara = Operator.objects.get(ref=CALLER_OPERATOR_REF)
    assert sara.user is not None and sara.user.username == "caller2"
    assert Contact.objects.filter(operator=sara).exists()

    web = WebClient()
    web.login(username="viewer-acme", password="demo-viewer")
    assert web.get("/").status_code == 200


@pytest.mark.django_db
def test_running_the_demo_twice_changes_nothing() -> None:
    run_demo()
    before = snapshot()

    second = run_demo("--url", "http://127.0.0.1:8002/")

    assert snapshot() == before
    assert "Nothing changed" in second
    assert "Open http://127.0.0.1:8002/" in second  # the address make demo serves on
    assert "0 created, 0 updated" in second


@pytest.mark.parametrize(("seed", "scale"), [(8, SCALE), (7, "0.06")])
@pytest.mark.django_db
def test_another_seed_or_scale_replaces_the_earlier_demo_without_leftovers(
    seed: int, scale: str
) -> None:
    run_demo(seed=7)

    output = run_demo(seed=seed, scale=scale)

    assert "earlier demo data deleted" in output
    # Exactly the new world: the stored rows are those of the new feeds, no more.
    feeds = _feeds(seed=seed, scale=float(scale))
    assert set(Account.objects.values_list("ref", "amount_placed")) == {
        (row["account_ref"], Decimal(row["amount_placed"])) for row in feeds["accounts"]
    }
    assert set(Contact.objects.values_list("ref", "outcome")) == {
        (row["contact_ref"], row["outcome"]) for row in feeds["contacts"]
    }
    assert Payment.objects.count() == len(feeds["payments"])
    assert Promise.objects.count() == sum(1 for row in feeds["contacts"] if row["promise_due"])


@pytest.mark.django_db
def test_the_demo_refuses_a_database_with_real_clients() -> None:
    ClientFactory(ref="acme-energia", name="Acme Energia")  # a real client, not the demo's

    with pytest.raises(CommandError, match="not demo data"):
        run_demo()

    assert Client.objects.get().name == "Acme Energia"
    assert Account.objects.count() == 0


@pytest.mark.django_db
def test_a_user_made_by_hand_keeps_their_password() -> None:
    get_user_model().objects.create_user("admin", "me@example.com", "mine-not-yours")

    output = run_demo()

    assert WebClient().login(username="admin", password="mine-not-yours")
    assert "exists and is not a demo user" in output


def _feeds(*, seed: int, scale: float) -> dict[str, list[dict[str, str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate(directory=Path(tmp), seed=seed, today=TODAY, scale=scale)
        return {
            feed: list(csv.DictReader(manifest.path(feed).open(encoding="utf-8")))
            for feed in ("accounts", "contacts", "payments")
        }


# --- the generator alone (no database) -----------------------------------------------------


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    a = generate(directory=tmp_path / "a", seed=42, today=TODAY, scale=0.02)
    b = generate(directory=tmp_path / "b", seed=42, today=TODAY, scale=0.02)
    c = generate(directory=tmp_path / "c", seed=43, today=TODAY, scale=0.02)

    for feed in ("accounts", "contacts", "payments"):
        assert a.path(feed).read_bytes() == b.path(feed).read_bytes()
    assert a.path("contacts").read_bytes() != c.path("contacts").read_bytes()
    assert a.counts == b.counts


def test_the_generated_rows_are_plausible(tmp_path: Path) -> None:
    manifest = generate(directory=tmp_path, seed=42, today=TODAY, scale=0.1)
    accounts = {
        (r["client_ref"], r["account_ref"]): r
        for r in csv.DictReader(manifest.path("accounts").open(encoding="utf-8"))
    }
    contacts = list(csv.DictReader(manifest.path("contacts").open(encoding="utf-8")))
    payments = list(csv.DictReader(manifest.path("payments").open(encoding="utf-8")))

    assert len(accounts) == 2_000
    for row in accounts.values():
        number = phonenumbers.parse(row["debtor_phone"], row["debtor_country"])
        assert phonenumbers.is_valid_number(number), row
        assert row["currency"] == "EUR"
    countries = Counter(r["debtor_country"] for r in accounts.values() if r["client_ref"] ==
                        "telco-uno")  # fmt: skip
    assert countries["US"] > 0 and countries["ES"] > 0  # the telecom's few foreign debtors
    amounts = sorted(Decimal(r["amount_placed"]) for r in accounts.values())
    assert Decimal(150) < amounts[len(amounts) // 2] < Decimal(450)  # median near 300 EUR
    assert amounts[-1] > 5 * amounts[len(amounts) // 2]  # a long tail

    zones = {
        "acme-energia": "Europe/Rome",
        "luz-norte": "Europe/Madrid",
        "telco-uno": "Europe/Rome",
    }
    for row in contacts:
        started = dt.datetime.fromisoformat(row["started_at"])
        local = started.astimezone(ZoneInfo(zones[row["client_ref"]]))
        assert 9 <= local.hour < 19 and local.weekday() != 6, row
        assert started.date() < TODAY
        placed = dt.date.fromisoformat(
            accounts[(row["client_ref"], row["account_ref"])]["placed_at"]
        )
        assert started.date() > placed
        if row["outcome"] in PROMISE_OUTCOMES:
            assert Decimal(row["promise_amount"]) > 0
            assert dt.date.fromisoformat(row["promise_due"]) > started.date()
    right_party_phone = [
        r for r in contacts
        if r["channel"] == "phone"
        and r["outcome"] not in {"no_answer", "busy", "voicemail", "third_party", "wrong_party"}
    ]  # fmt: skip
    consent = Counter(r["survey_consent"] for r in right_party_phone)
    assert 0.6 <= consent["yes"] / len(right_party_phone) <= 0.8
    assert 0.05 <= consent["no"] / len(right_party_phone) <= 0.16

    # Payments never exceed what was placed, and a reversal follows its payment.
    net: Counter[tuple[str, str]] = Counter()
    seen: dict[tuple[str, str], dt.datetime] = {}
    for row in payments:
        key = (row["client_ref"], row["account_ref"])
        cents = int(Decimal(row["amount"]) * 100)
        paid_at = dt.datetime.fromisoformat(row["paid_at"])
        assert paid_at.date() < TODAY
        if row["reversal_of"]:
            assert seen[(row["client_ref"], row["reversal_of"])] < paid_at
            net[key] -= cents
        else:
            net[key] += cents
        seen[(row["client_ref"], row["payment_ref"])] = paid_at
    for key, cents in net.items():
        assert cents <= int(Decimal(accounts[key]["amount_placed"]) * 100)
    assert any(row["reversal_of"] for row in payments)


def test_the_manifest_records_the_planted_truth(tmp_path: Path) -> None:
    manifest = generate(directory=tmp_path, seed=42, today=TODAY, scale=0.1)

    styles = Counter(o.style for o in manifest.operators)
    assert styles == {"empathic": 6, "neutral": 4, "pushy": 5}
    for op in manifest.operators:
        if op.style == "empathic":
            assert op.empathy > 0 and op.params.keep_rate > 0.58
        if op.style == "pushy":
            assert op.empathy < 0 and op.params.keep_rate < 0.58
    realised = manifest.by_style
    assert realised["empathic"].promise_rate > realised["pushy"].promise_rate
    assert realised["empathic"].kept_rate > realised["pushy"].kept_rate
    assert realised["empathic"].recovery_rate > realised["pushy"].recovery_rate
    assert (tmp_path / "manifest.json").is_file()
