"""People and roles: who sees which client, the database refusing impossible memberships, the
login page, the home page, and the create_user command."""

from __future__ import annotations

import re
from html import unescape
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.http import Http404
from django.test import Client as HttpClient

from collections_link.admin import staff_follows_role
from collections_link.models import Client, Membership, Role
from collections_link.roles import client_for_user_or_404, user_role, visible_clients
from tests.factories import ClientFactory, UserFactory, user_with_role

PASSWORD = "pw-for-tests-1"  # the factories' password
PW = "Zx9-plenty-long"


@pytest.fixture
def acme(db: None) -> Client:
    return ClientFactory.create()


@pytest.fixture
def beta(db: None) -> Client:
    return ClientFactory.create(
        ref="beta-telco", name="Beta Telco", country="ES", default_language="es"
    )


def make_user(kind: str, acme: Client) -> Any:
    if kind == "anonymous":
        return AnonymousUser()
    if kind == "superuser":
        return get_user_model().objects.create_superuser("root-user", "r@example.com", PASSWORD)
    if kind == "no_membership":
        return UserFactory.create(username="nobody")
    role = Role(kind)
    return user_with_role(f"the-{kind}", role, acme if role == Role.CLIENT_VIEWER else None)


@pytest.mark.parametrize(
    ("kind", "role", "sees"),
    [
        ("superuser", Role.AGENCY_ADMIN, {"acme-energia", "beta-telco"}),
        (Role.AGENCY_ADMIN, Role.AGENCY_ADMIN, {"acme-energia", "beta-telco"}),
        (Role.SUPERVISOR, Role.SUPERVISOR, {"acme-energia", "beta-telco"}),
        (Role.CALLER, Role.CALLER, set()),
        (Role.CLIENT_VIEWER, Role.CLIENT_VIEWER, {"acme-energia"}),
        ("no_membership", None, set()),
        ("anonymous", None, set()),
    ],
)
def test_who_sees_which_client(acme, beta, kind: str, role: Role | None, sees: set[str]) -> None:
    user = make_user(kind, acme)
    assert user_role(user) == role
    assert set(visible_clients(user).values_list("ref", flat=True)) == sees
    for client in (acme, beta):
        if client.ref in sees:
            assert client_for_user_or_404(user, ref=client.ref) == client
        else:
            with pytest.raises(Http404):
                client_for_user_or_404(user, ref=client.ref)
    # A client that does not exist looks exactly like one the user may not read.
    with pytest.raises(Http404, match="No such client"):
        client_for_user_or_404(user, ref="no-such-client")


def test_a_client_viewer_of_acme_never_reads_beta(acme, beta) -> None:
    viewer = user_with_role("acme-viewer", Role.CLIENT_VIEWER, acme)
    assert list(visible_clients(viewer)) == [acme]
    with pytest.raises(Http404):
        client_for_user_or_404(viewer, ref="beta-telco")


@pytest.mark.parametrize(
    ("role", "with_client"),
    [
        (Role.CLIENT_VIEWER, False),  # a viewer must be bound to a client
        (Role.AGENCY_ADMIN, True),  # the agency roles see every client, so carry none
        (Role.SUPERVISOR, True),
        (Role.CALLER, True),
        ("janitor", False),  # an unknown role
    ],
)
def test_the_database_refuses_impossible_memberships(acme, role: str, with_client: bool) -> None:
    user = UserFactory.create(username="someone")
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, role=role, client=acme if with_client else None)
    assert not Membership.objects.filter(user=user).exists()


# --- login and home --------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(db: None) -> None:
    response = HttpClient().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_the_login_page_logs_in_and_lands_on_home(acme) -> None:
    user_with_role("giulia", Role.SUPERVISOR)
    http = HttpClient()
    page = http.get("/login/?next=/")
    assert page.status_code == 200
    assert 'name="username"' in page.content.decode()
    assert 'name="password"' in page.content.decode()

    wrong = http.post("/login/", {"username": "giulia", "password": "not-it", "next": "/"})
    assert wrong.status_code == 200
    assert "didn" in wrong.content.decode()  # "Your username and password didn't match"

    response = http.post("/login/", {"username": "giulia", "password": PASSWORD, "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = http.get("/").content.decode()
    assert "You are signed in as Supervisor" in home
    assert "Acme Energia" in home


def links(html: str) -> dict[str, str]:
    return dict((label, url) for url, label in re.findall(r'<a href="([^"]+)">([^<]+)</a>', html))


def test_each_role_lands_on_links_to_its_own_work(acme, beta) -> None:
    """Home is the way into the product: every role sees the pages it may open, and each one
    opens for it."""
    cases = {
        Role.SUPERVISOR: (
            user_with_role("sara", Role.SUPERVISOR),
            {
                "Agency dashboard": "/dashboard/",
                "Opt-out messages to review": "/admin/surveys/reviewitem/?state__exact=open",
                "CATI supervision": "/cati/supervisor/",
                "CATI console": "/cati/",
                "NPS dashboard: Acme Energia": "/dashboard/c/acme-energia/",
                "NPS dashboard: Beta Telco": "/dashboard/c/beta-telco/",
            },
        ),
        Role.CALLER: (user_with_role("carlo", Role.CALLER), {"CATI console": "/cati/"}),
        Role.CLIENT_VIEWER: (
            user_with_role("vera", Role.CLIENT_VIEWER, acme),
            {"NPS dashboard: Acme Energia": "/dashboard/c/acme-energia/"},
        ),
    }
    for role, (user, expected) in cases.items():
        if role == Role.SUPERVISOR:
            staff_follows_role(user.pk)
        http = HttpClient()
        http.force_login(user)
        found = links(unescape(http.get("/").content.decode()))
        for label, url in expected.items():
            assert found.get(label) == url, (role, label, found)
            assert http.get(url).status_code == 200, (role, url)
        if role != Role.SUPERVISOR:
            assert "Agency dashboard" not in found and "Administration" not in found
        if role == Role.CLIENT_VIEWER:
            assert "Beta Telco" not in str(found)


def test_a_client_viewers_home_lists_only_its_own_client(acme, beta) -> None:
    http = HttpClient()
    http.force_login(user_with_role("acme-viewer", Role.CLIENT_VIEWER, acme))
    home = http.get("/").content.decode()
    assert "Acme Energia" in home
    assert "Beta Telco" not in home


def test_a_user_without_a_role_is_told_so(acme) -> None:
    http = HttpClient()
    http.force_login(UserFactory.create(username="nobody"))
    home = http.get("/").content.decode()
    assert "no role yet" in home
    assert "Acme Energia" not in home


# --- create_user -----------------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("create_user", *args, stdout=out)
    return out.getvalue()


def test_create_a_client_viewer(acme) -> None:
    out = run(
        "marta",
        "--role",
        "client_viewer",
        "--client",
        "acme-energia",
        "--password",
        "Zx9-plenty-long",
    )
    assert "Created marta: Client viewer of Acme Energia." in out
    user = authenticate(username="marta", password=PW)
    assert user is not None
    assert (user.membership.role, user.membership.client) == (Role.CLIENT_VIEWER, acme)
    assert (user.is_staff, user.is_superuser) == (False, False)
    assert list(visible_clients(user)) == [acme]


@pytest.mark.parametrize(
    ("role", "staff", "superuser"),
    [("agency_admin", True, True), ("supervisor", True, False), ("caller", False, False)],
)
def test_create_agency_people(db: None, role: str, staff: bool, superuser: bool) -> None:
    out = run("pat", "--role", role, "--email", "pat@example.com")
    # No password given: a random one, printed once, that works.
    password = out.split("Password: ")[1].strip()
    user = authenticate(username="pat", password=password)
    assert user is not None
    assert (user.membership.role, user.membership.client) == (role, None)
    assert (user.is_staff, user.is_superuser, user.email) == (staff, superuser, "pat@example.com")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "client_viewer"], "exactly one client"),
        (
            ["--role", "client_viewer", "--client", "acme-energia", "--client", "beta-telco"],
            "exactly one client",
        ),
        (["--role", "supervisor", "--client", "acme-energia"], "do not pass --client"),
        (["--role", "client_viewer", "--client", "acme"], "No client with ref 'acme'"),
        (["--role", "caller", "--password", "123"], "Password refused"),
    ],
)
def test_create_user_refuses_with_a_clear_message(
    acme, beta, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run("kim", *args)
    assert not get_user_model().objects.filter(username="kim").exists()


def test_unknown_client_lists_the_known_ones(acme, beta) -> None:
    with pytest.raises(CommandError, match=r"Known clients: .*acme-energia"):
        run("kim", "--role", "client_viewer", "--client", "acme")


def test_an_existing_user_changes_role_only_with_update(acme) -> None:
    run("marta", "--role", "supervisor")
    with pytest.raises(CommandError, match="already exists"):
        run("marta", "--role", "client_viewer", "--client", "acme-energia")
    out = run("marta", "--role", "client_viewer", "--client", "acme-energia", "--update")
    assert "Updated marta" in out
    assert "Password" not in out  # the password stays as it was
    user = get_user_model().objects.get(username="marta")
    assert (user.membership.role, user.membership.client, user.is_staff) == (
        Role.CLIENT_VIEWER,
        acme,
        False,
    )
