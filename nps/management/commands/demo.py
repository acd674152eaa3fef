"""`python manage.py demo`: a realistic, seeded, clearly labelled synthetic data set, loaded
through the same ingest a user's feeds go through, with demo logins for every role.

The demo is a list of named steps (`STEPS`); each prints one line with its timing, and later
parts of the product append theirs (plan surveys, dispatch, responses, CATI outcomes) so the
demo always shows the whole product. Running it again with the same seed and date changes
nothing: the generator is deterministic and the ingest is idempotent.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AbstractUser
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import transaction
from django.db.models import Count, ProtectedError, Q, Sum
from django.utils import timezone

from collections_link.dbstats import statistics_refresh
from collections_link.demo_data import (
    CALLER_OPERATOR_REF,
    CLIENTS,
    DEMO_OPERATOR_REFS,
    DEMO_SUFFIX,
    DemoManifest,
    generate,
)
from collections_link.ingest import ImportResult, import_csv
from collections_link.models import (
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

DEMO_CLIENT_REFS = tuple(c.ref for c in CLIENTS)
# Demo users carry this e-mail domain (reserved, never deliverable): it tells them apart from
# accounts a person made, whose passwords the demo never touches.
DEMO_EMAIL_DOMAIN = "demo.invalid"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    client_ref: str | None = None
    operator_ref: str | None = None
    first_name: str = ""
    last_name: str = ""


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("admin", "demo-admin", Role.AGENCY_ADMIN, first_name="Demo", last_name="Admin"),
    DemoLogin("supervisor", "demo-supervisor", Role.SUPERVISOR, first_name="Paola",
              last_name="Conti"),
    DemoLogin("caller1", "demo-caller1", Role.CALLER, first_name="Andrea", last_name="Moretti"),
    # Sara Marino also collects for Telco Uno: the CATI queue must never give her her own
    # contacts to survey.
    DemoLogin("caller2", "demo-caller2", Role.CALLER, operator_ref=CALLER_OPERATOR_REF,
              first_name="Sara", last_name="Marino"),
    DemoLogin("viewer-acme", "demo-viewer", Role.CLIENT_VIEWER, client_ref="acme-energia"),
    DemoLogin("viewer-luz", "demo-viewer", Role.CLIENT_VIEWER, client_ref="luz-norte"),
    DemoLogin("viewer-telco", "demo-viewer", Role.CLIENT_VIEWER, client_ref="telco-uno"),
)  # fmt: skip


@dataclass
class DemoRun:
    """What the steps share: the options, the generated world, and what each step did."""

    seed: int
    today: dt.date
    scale: float
    workdir: Path
    interactive: bool
    reset: bool
    stdout: OutputWrapper
    manifest: DemoManifest | None = None
    imports: dict[str, ImportResult] = field(default_factory=dict)
    admin: AbstractUser | None = None
    logins: list[tuple[DemoLogin, str]] = field(default_factory=list)  # (login, note)

    def world(self) -> DemoManifest:
        if self.manifest is None:
            raise CommandError("The synthetic feeds have not been generated.")
        return self.manifest


@dataclass(frozen=True)
class DemoStep:
    name: str
    run: Callable[[DemoRun], str]  # does the work; returns its one-line summary


# --- steps -----------------------------------------------------------------------------------


def step_generate(run: DemoRun) -> str:
    run.manifest = generate(directory=run.workdir, seed=run.seed, today=run.today, scale=run.scale)
    c = run.manifest.counts
    return (
        f"{c['accounts']:,} accounts, {c['contacts']:,} contacts, "
        f"{c['payments'] + c['reversals']:,} payments (seed {run.seed}, up to {run.today})"
    )


def step_check_database(run: DemoRun) -> str:
    """Refuses to mix the demo with anyone's real data; replaces an earlier demo loaded with
    another seed, date or scale (its rows would otherwise linger beside the new ones)."""
    foreign = list(
        Client.objects.exclude(ref__in=DEMO_CLIENT_REFS, name__endswith=DEMO_SUFFIX)
        .order_by("ref")
        .values_list("ref", flat=True)[:5]
    )
    if foreign:
        raise CommandError(
            "This database holds clients that are not demo data "
            f"({', '.join(foreign)}). The demo loads only into an empty database or over its "
            "own earlier run: point DATABASE_URL at a fresh database (or remove db.sqlite3 "
            "and run migrate) to try it."
        )
    present = Client.objects.filter(ref__in=DEMO_CLIENT_REFS).exists()
    if not present:
        return "empty database: loading the demo"
    if run.reset:
        _delete_demo_data()
        return "--reset: earlier demo data deleted"
    stale = _rows_not_in_feeds(run.world())
    if not stale:
        return "this same demo was loaded before: what is already here stays as it is"
    question = (
        f"The demo data here was loaded with another seed, date or scale ({stale:,} rows "
        "differ). Replace it? [y/N] "
    )
    if run.interactive and input(question).strip().lower() not in {"y", "yes"}:
        raise CommandError("Left the earlier demo data as it was (use --reset to replace it).")
    _delete_demo_data()
    return f"earlier demo data deleted ({stale:,} rows were from other settings)"


def step_clients_and_operators(run: DemoRun) -> str:
    """The clients and the agency's staff roster, with each operator's assignment history: the
    feeds name a client and an operator but not when an operator moved between clients."""
    world = run.world()
    with transaction.atomic():
        clients: dict[str, Client] = {}
        for demo in world.clients:
            client, _ = Client.objects.update_or_create(
                ref=demo.ref,
                defaults={
                    "name": demo.name,
                    "country": demo.country,
                    "default_language": demo.language,
                    "time_zone": demo.time_zone,
                },
            )
            clients[demo.ref] = client
        n_assignments = 0
        for demo_op in world.operators:
            operator, _ = Operator.objects.update_or_create(
                ref=demo_op.ref,
                defaults={"name": demo_op.name, "client": clients[demo_op.client_ref]},
            )
            wanted = [
                (
                    clients[a.client_ref].pk,
                    _local_midnight(a.started_on, world, a.client_ref),
                    _local_midnight(a.ended_on, world, a.client_ref) if a.ended_on else None,
                )
                for a in demo_op.assignments
            ]
            have = list(
                operator.assignments.order_by("started_at").values_list(
                    "client_id", "started_at", "ended_at"
                )
            )
            if have != wanted:
                operator.assignments.all().delete()
                OperatorAssignment.objects.bulk_create(
                    OperatorAssignment(operator=operator, client_id=c, started_at=s, ended_at=e)
                    for c, s, e in wanted
                )
            n_assignments += len(wanted)
    return (
        f"{len(clients)} clients, {len(world.operators)} operators, "
        f"{n_assignments} assignments (one operator moved mid-period)"
    )


def step_users(run: DemoRun) -> str:
    """The demo logins, one per role. Idempotent: a password is set only when it differs, and
    a user someone made by hand with the same name is left alone."""
    user_model = get_user_model()
    created = 0
    run.logins = []
    hashes: dict[str, str] = {}
    with transaction.atomic():
        for login in DEMO_LOGINS:
            email = f"{login.username}@{DEMO_EMAIL_DOMAIN}"
            user = user_model.objects.filter(username=login.username).first()
            if user is not None and user.email != email:
                run.logins.append((login, "exists and is not a demo user: left unchanged"))
                if login.role == Role.AGENCY_ADMIN:
                    run.admin = user
                continue
            if user is None:
                user = user_model(username=login.username, email=email)
                created += 1
            superuser = login.role == Role.AGENCY_ADMIN
            user.first_name, user.last_name = login.first_name, login.last_name
            user.is_superuser = superuser
            # The admin (the opt-out review queue) opens to the agency's roles, as when an
            # administrator gives someone a role (`staff_follows_role`).
            user.is_staff = login.role in {Role.AGENCY_ADMIN, Role.SUPERVISOR}
            user.is_active = True
            _ensure_password(user, login.password, hashes)
            user.save()
            client = Client.objects.get(ref=login.client_ref) if login.client_ref else None
            Membership.objects.update_or_create(
                user=user, defaults={"role": login.role, "client": client}
            )
            note = ""
            if login.operator_ref:
                operator = Operator.objects.get(ref=login.operator_ref)
                if operator.user_id != user.pk:
                    operator.user = user
                    operator.save(update_fields=["user"])
                note = f"also operator {operator.name}"
            if client is not None:
                note = f"sees only {client.name}"
            if superuser:
                note = "superuser, also /admin/"
            run.logins.append((login, note))
            if superuser:
                run.admin = user
    return f"{len(DEMO_LOGINS)} logins ({created} new)"


def step_survey_history(run: DemoRun) -> str:
    """Replay the survey programme over the last weeks through the real services."""
    from nps.demo_surveys import HISTORY_DAYS, SurveyHistory
    from surveys.models import Invitation

    clients = Client.objects.filter(ref__in=DEMO_CLIENT_REFS)
    if Invitation.objects.filter(client__in=clients).exists():
        return "already replayed (unchanged)"
    done = SurveyHistory(run.world(), seed=run.seed).run(today=run.today)
    return (
        f"{HISTORY_DAYS} days replayed: {done['messages']:,} SMS in the outbox, "
        f"{done['responses']:,} responses, {done['cati_calls']:,} CATI calls "
        f"({done['cati_completes']:,} interviews)"
    )


def step_followups(run: DemoRun) -> str:
    """Open the follow-up cases of recent detractors. Their e-mails go to the locmem backend
    so the demo's console is not flooded; a real deployment mails the owners."""
    from django.test.utils import override_settings

    from nps.followups import followups_open

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        summary = followups_open()
    return f"{summary.opened:,} opened, {summary.emailed:,} owners e-mailed (not printed)"


def step_rollup(run: DemoRun) -> str:
    from nps.rollup import rollup_rebuild

    result = rollup_rebuild()
    return f"{result.inserted:,} cells (client, operator, channel, contact type, outcome, month)"


def _import_step(feed: str) -> Callable[[DemoRun], str]:
    def step(run: DemoRun) -> str:
        result = import_csv(
            feed=feed, path=run.world().path(feed), create_clients=False, user=run.admin
        )
        run.imports[feed] = result
        if not result.ok:
            lines = [f"  line {e.line}, {e.column}: {e.reason}" for e in list(result.errors)[:20]]
            raise CommandError(
                f"The demo {feed} did not import cleanly ({result.rejected} rejected of "
                f"{result.rows_read}):\n" + "\n".join(lines)
            )
        return (
            f"{result.rows_read:,} rows: {result.created:,} created, "
            f"{result.updated:,} updated, {result.unchanged:,} unchanged"
        )

    step.__name__ = f"step_import_{feed}"
    return step


STEPS: list[DemoStep] = [
    DemoStep("generate the synthetic feeds", step_generate),
    DemoStep("check the database", step_check_database),
    DemoStep("clients and operators", step_clients_and_operators),
    DemoStep("demo logins", step_users),
    DemoStep("import accounts", _import_step("accounts")),
    DemoStep("import contacts", _import_step("contacts")),
    DemoStep("import payments", _import_step("payments")),
    DemoStep("survey history", step_survey_history),
    DemoStep("follow-ups on detractors", step_followups),
    DemoStep("analytics roll-up", step_rollup),
]


# --- helpers -----------------------------------------------------------------------------------


def _ensure_password(user: AbstractUser, password: str, hashes: dict[str, str]) -> None:
    """Sets `password` unless the stored hash already matches it. Hashing is slow on purpose,
    so users sharing a (public, demo) password share one hash, and each hash is checked once:
    a second run hashes nothing."""
    stored = user.password
    if hashes.get(password) == stored:
        return
    if user.has_usable_password() and check_password(password, stored):
        hashes.setdefault(password, stored)
        return
    if password not in hashes:
        hashes[password] = make_password(password)
    user.password = hashes[password]


def _local_midnight(day: dt.date, world: DemoManifest, client_ref: str) -> dt.datetime:
    zone = next(c.time_zone for c in world.clients if c.ref == client_ref)
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(zone))


@contextlib.contextmanager
def _quiet(name: str, *, unless: bool) -> Iterator[None]:
    """Each step prints its own summary line; the ingest's log line would repeat it."""
    logger = logging.getLogger(name)
    level = logger.level
    if not unless:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _rows_not_in_feeds(world: DemoManifest) -> int:
    """Stored demo rows that this run's feeds do not hold as they are: rows of another world
    (another seed, date or scale) or of an older generator. Loading over them would leave some
    behind and could trip the unique constraints mid-file, so they are replaced instead."""

    def feed(name: str) -> list[dict[str, str]]:
        with world.path(name).open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    def when(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text)

    accounts, contacts, payments = feed("accounts"), feed("contacts"), feed("payments")
    wanted: list[tuple[Any, set[tuple[Any, ...]], tuple[str, ...]]] = [
        (
            Debtor.objects,
            {(r["client_ref"], r["debtor_ref"]) for r in accounts},
            ("client__ref", "ref"),
        ),
        (
            Account.objects,
            {(r["client_ref"], r["account_ref"], r["debtor_ref"],
              dt.date.fromisoformat(r["placed_at"]), Decimal(r["amount_placed"]))
             for r in accounts},
            ("client__ref", "ref", "debtor__ref", "placed_on", "amount_placed"),
        ),
        (
            Contact.objects,
            {(r["client_ref"], r["contact_ref"], r["account_ref"], r["operator_ref"],
              when(r["started_at"]), r["outcome"])
             for r in contacts},
            ("client__ref", "ref", "account__ref", "operator__ref", "started_at", "outcome"),
        ),
        (
            Payment.objects,
            {(r["client_ref"], r["payment_ref"], r["account_ref"], when(r["paid_at"]),
              Decimal(r["amount"]), r["reversal_of"] or None)
             for r in payments},
            ("client__ref", "ref", "account__ref", "paid_at", "amount", "reversal_of__ref"),
        ),
    ]  # fmt: skip
    differing = 0
    for manager, rows, fields in wanted:
        stored = manager.filter(client__ref__in=DEMO_CLIENT_REFS).values_list(*fields)
        differing += sum(1 for row in stored.iterator(chunk_size=5000) if row not in rows)
    differing += (
        Operator.objects.filter(client__ref__in=DEMO_CLIENT_REFS)
        .exclude(ref__in=DEMO_OPERATOR_REFS)
        .count()
    )
    return differing


def _delete_demo_data() -> None:
    """Deletes the demo clients and everything hanging from them, children first."""
    from nps.demo_surveys import survey_data_delete

    clients = Client.objects.filter(ref__in=DEMO_CLIENT_REFS)
    try:
        with transaction.atomic():
            survey_data_delete(clients=clients)
            Payment.objects.filter(client__in=clients, reversal_of__isnull=False).delete()
            Payment.objects.filter(client__in=clients).delete()
            Promise.objects.filter(account__client__in=clients).delete()
            ConsentRecord.objects.filter(contact__client__in=clients).delete()
            Contact.objects.filter(client__in=clients).delete()
            Account.objects.filter(client__in=clients).delete()
            Debtor.objects.filter(client__in=clients).delete()
            operators = Operator.objects.filter(
                Q(client__in=clients) | Q(ref__in=DEMO_OPERATOR_REFS)
            )
            OperatorAssignment.objects.filter(
                Q(operator__in=operators) | Q(client__in=clients)
            ).delete()
            operators.delete()
            clients.delete()  # the client viewers' memberships go with them
    except ProtectedError as exc:
        names = sorted({type(obj).__name__ for obj in exc.protected_objects})
        raise CommandError(
            f"Cannot delete the earlier demo data: {', '.join(names)} rows still refer to it."
        ) from exc


def _demo_counts() -> list[tuple[str, int]]:
    clients = Client.objects.filter(ref__in=DEMO_CLIENT_REFS)
    contacts = Contact.objects.filter(client__in=clients)
    payments = Payment.objects.filter(client__in=clients)
    c = contacts.aggregate(
        all=Count("id"),
        right_party=Count("id", filter=Q(right_party=True)),
        visits=Count("id", filter=Q(channel="home_visit")),
    )
    return [
        ("clients", clients.count()),
        ("operators", Operator.objects.filter(client__in=clients).count()),
        ("debtors", Debtor.objects.filter(client__in=clients).count()),
        ("accounts", Account.objects.filter(client__in=clients).count()),
        ("contacts", c["all"]),
        ("  right-party", c["right_party"]),
        ("  home visits", c["visits"]),
        ("promises", Promise.objects.filter(contact__client__in=clients).count()),
        ("payments", payments.filter(reversal_of__isnull=True).count()),
        ("  reversals", payments.filter(reversal_of__isnull=False).count()),
    ]


def _money_totals() -> tuple[float, float]:
    clients = Client.objects.filter(ref__in=DEMO_CLIENT_REFS)
    placed = Account.objects.filter(client__in=clients).aggregate(s=Sum("amount_placed"))["s"]
    pays = Payment.objects.filter(client__in=clients)
    paid = pays.filter(reversal_of__isnull=True).aggregate(s=Sum("amount"))["s"]
    back = pays.filter(reversal_of__isnull=False).aggregate(s=Sum("amount"))["s"]
    return float(placed or 0), float((paid or 0) - (back or 0))


class Command(BaseCommand):
    help = (
        "Loads a realistic, seeded, clearly labelled synthetic data set (three clients, "
        "fifteen operators, accounts, contacts, payments) through the ordinary ingest, and "
        "creates demo logins for every role. Running it again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="Reference date YYYY-MM-DD: the data covers the 120 days before it "
            "(default: today).",
        )
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="Size relative to the full demo of about 20,000 accounts (default 1.0).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the earlier demo data before loading (never touches other data).",
        )
        parser.add_argument(
            "--csv-dir",
            type=Path,
            default=None,
            help="Keep the generated CSV feeds (and manifest.json) in this directory.",
        )
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000/",
            help="Where the demo will be served, for the closing line (make demo passes it).",
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Never prompt (replace an earlier demo loaded with other settings).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["scale"] <= 0 or options["scale"] > 10:
            raise CommandError("--scale must be above 0 and at most 10.")
        today: dt.date = options["today"] or timezone.localdate()
        started = time.monotonic()
        with (
            tempfile.TemporaryDirectory(prefix="demo-feeds-") as tmp,
            _quiet("collections_link.ingest", unless=options["verbosity"] > 1),
        ):
            run = DemoRun(
                seed=options["seed"],
                today=today,
                scale=options["scale"],
                workdir=options["csv_dir"] or Path(tmp),
                interactive=options["interactive"] and sys.stdin.isatty(),
                reset=options["reset"],
                stdout=self.stdout,
            )
            self.stdout.write(self.style.MIGRATE_HEADING("SYNTHETIC DEMO DATA: loading"))
            for number, step in enumerate(STEPS, start=1):
                t0 = time.monotonic()
                summary = step.run(run)
                self.stdout.write(
                    f"  [{number}/{len(STEPS)}] {step.name:<30} {summary} "
                    f"({time.monotonic() - t0:.1f} s)"
                )
            # The survey history wrote every table at once: the dashboards' first queries
            # must not be planned without statistics (collections_link.dbstats).
            statistics_refresh()
        self._report(run, time.monotonic() - started, url=options["url"])

    def _report(self, run: DemoRun, seconds: float, *, url: str) -> None:
        out, style = self.stdout, self.style
        banner = "=" * 72
        out.write("")
        out.write(style.WARNING(banner))
        out.write(
            style.WARNING(
                "  SYNTHETIC DEMO DATA: invented clients, people and money. Client names end "
                f'in "{DEMO_SUFFIX.strip()}".'
            )
        )
        out.write(style.WARNING(banner))
        changed = sum(r.created + r.updated for r in run.imports.values())
        if run.imports and not changed:
            out.write("Nothing changed: this demo (same seed and date) was already loaded.")
        for label, value in _demo_counts():
            out.write(f"  {label:<16} {value:>8,}")
        placed, collected = _money_totals()
        share = collected / placed if placed else 0.0
        out.write(
            f"  {'placed':<16} {placed:>11,.2f} EUR; collected {collected:,.2f} EUR ({share:.1%})"
        )
        if run.manifest is not None:
            out.write("")
            out.write("Planted truth (what the analytics should find), by operator style:")
            for name, s in run.manifest.by_style.items():
                out.write(
                    f"  {name:<9} {s.operators:>2} operators   promises {s.promise_rate:6.1%} "
                    f"of right-party contacts   kept {s.kept_rate:6.1%}   "
                    f"recovered {s.recovery_rate:6.1%}"
                )
        out.write("")
        out.write(style.MIGRATE_HEADING("Demo logins"))
        out.write(f"  {'username':<14} {'password':<17} {'role':<15} note")
        for login, note in run.logins:
            role = Role(login.role).label
            out.write(f"  {login.username:<14} {login.password:<17} {role:<15} {note}")
        out.write("")
        out.write(f"Done in {seconds:.1f} s. Open {url}")
