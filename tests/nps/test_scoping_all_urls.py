"""Every URL the project has, tried as a client viewer of another client and as nobody.

The patterns come from the URL resolver, so a URL added anywhere (an app's urls.py, an
include, the admin) is tried here the day it appears; a pattern this file does not know
FAILS with "add this URL to the scoping test". Each pattern is either:

- public (the login page, the survey page behind its secret token, Twilio's webhooks...),
- signed-in (any signed-in user, showing only what that user may see),
- one client's (a builder makes the URL of *another* client's object: it must be a 404 that
  reveals nothing, while the viewer's own object is a 200),
- the agency's alone (never a 200 for a client viewer, never another client's data),
- the admin's (a client viewer is sent to the admin login).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from nps.followups import followups_open
from nps.models import FollowUpCase
from surveys.models import CatiCase, InvitationStatus
from tests.nps.dashboard_support import Side, cati_case_for, two_clients
from tests.nps.nps_support import answered


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The benchmark across clients is cached for a few minutes; each test has its own data.
    cache.clear()
    yield
    cache.clear()


# --- the walk ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    key: str  # "namespace:name", or the route for an unnamed pattern
    route: str  # as ResolverMatch.route spells it
    namespace: str


def walk(
    resolver: URLResolver | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[Pattern]:
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        piece = str(p.pattern).removeprefix("^")
        if isinstance(p, URLResolver):
            ns = namespace
            if p.namespace:
                ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
            yield from walk(p, prefix + piece, ns)
        elif isinstance(p, URLPattern):
            route = prefix + piece
            key = f"{namespace}:{p.name}" if namespace and p.name else (p.name or route)
            yield Pattern(key=key, route=route, namespace=namespace)


def fill(route: str, kwargs: dict[str, Any]) -> str:
    """The path of `route` with its parameters (path converters or regex groups) set."""
    # Regex groups first: "(?P<name>...)" also looks like a "<name>" converter.
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(kwargs[m.group(1)]), route)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), path)
    return "/" + path.replace("$", "").replace("\\", "")


# --- the world ---------------------------------------------------------------------------------


@dataclass
class Objects:
    """One client's objects that have URLs."""

    side: Side
    case: FollowUpCase
    cati: CatiCase
    token: str

    @property
    def ref(self) -> str:
        return self.side.client.ref


@pytest.fixture
def world(db) -> tuple[Objects, Objects]:
    now = timezone.now()
    a, b = two_clients(now=now)
    followups_open(now=now)
    objects = []
    for side in (a, b):
        pending = answered(
            client=side.client,
            operator=side.operator,
            score=None,
            answered_at=now,
            complete=False,
        )
        invitation = pending.invitation
        pending.delete()
        invitation.status = InvitationStatus.SENT
        invitation.answered_at = None
        invitation.expires_at = now + dt.timedelta(days=7)
        invitation.save()
        objects.append(
            Objects(
                side=side,
                case=FollowUpCase.objects.filter(client=side.client).first(),
                cati=cati_case_for(client=side.client, operator=side.operator, now=now),
                token=invitation.token,
            )
        )
    return objects[0], objects[1]


# --- what each URL is --------------------------------------------------------------------------

Builder = Callable[[Objects], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    name: str  # public | signed_in | client | agency
    kwargs: Builder = field(default=lambda o: {})
    # Query strings to try (each one a separate request); the API names the client there.
    queries: Callable[[Objects], list[str]] = field(default=lambda o: [""])


def public(kwargs: Builder = lambda o: {}) -> Kind:
    return Kind("public", kwargs)


def client_scoped(kwargs: Builder, queries: Callable[[Objects], list[str]] | None = None) -> Kind:
    return Kind("client", kwargs, queries or (lambda o: [""]))


def agency(kwargs: Builder = lambda o: {}) -> Kind:
    return Kind("agency", kwargs)


def _client_ref(o: Objects) -> dict[str, Any]:
    return {"client_ref": o.ref}


def _api_queries(o: Objects) -> list[str]:
    return [
        f"?client={o.ref}",
        f"?client={o.ref}&format=csv",
        f"?client={o.ref}&operator={o.side.operator.ref}",
    ]


def _api_operator_queries(o: Objects) -> list[str]:
    # The viewer's own client is implied; naming another client's operator is a 404 too.
    return [*_api_queries(o), f"?operator={o.side.operator.ref}"]


def _cati_case(o: Objects) -> dict[str, Any]:
    return {"case_id": o.cati.pk}


URLS: dict[str, Kind] = {
    # Public: no session needed, and nothing behind them names a client.
    "login": public(),
    "logout": public(),
    "healthz": public(),
    "api-schema": public(),
    "api-docs": public(),
    "nps:set-language": public(),
    "surveys:page": public(lambda o: {"token": o.token}),
    "surveys:thanks": public(lambda o: {"token": o.token}),
    "surveys:stop": public(lambda o: {"token": o.token}),
    "twilio-sms-status": public(),
    "twilio-sms-inbound": public(),
    # Any signed-in user; shows only the user's own clients.
    "home": Kind("signed_in"),
    # One client's data: another client's URL is a 404.
    "nps:client": client_scoped(_client_ref),
    "nps:client-scores": client_scoped(_client_ref),
    "nps:client-recovery": client_scoped(_client_ref),
    "nps:client-responses": client_scoped(_client_ref),
    "nps:export": client_scoped(lambda o: {"client_ref": o.ref, "table": "trend"}),
    "nps:operator": client_scoped(
        lambda o: {"client_ref": o.ref, "operator_ref": o.side.operator.ref}
    ),
    "nps:followups": client_scoped(_client_ref, lambda o: ["", "?format=csv"]),
    "nps:followup": client_scoped(lambda o: {"client_ref": o.ref, "pk": o.case.pk}),
    "api-nps": client_scoped(lambda o: {}, _api_operator_queries),
    "api-nps-rates": client_scoped(lambda o: {}, _api_operator_queries),
    "api-nps-recovery": client_scoped(lambda o: {}, _api_queries),
    "api-nps-payments": client_scoped(lambda o: {}, _api_operator_queries),
    "api-nps-nonresponse": client_scoped(lambda o: {}, _api_queries),
    # The agency's alone.
    "nps:index": agency(),
    "nps:agency-export": agency(lambda o: {"table": "clients"}),
    "sms-outbox": agency(),
    "api-import-accounts": agency(),
    "api-import-contacts": agency(),
    "api-import-payments": agency(),
    "cati:console": agency(),
    "cati:next": agency(),
    "cati:case": agency(_cati_case),
    "cati:answers": agency(_cati_case),
    "cati:disposition": agency(_cati_case),
    "cati:heartbeat": agency(_cati_case),
    "cati:release": agency(_cati_case),
    "cati:supervisor": agency(),
}
# Every admin page (one per registered model and action) is the admin's: its own login
# guards them all, so they are recognised by namespace rather than listed one by one.
ADMIN_NAMESPACE = "admin"
# Admin pages that answer a signed-in non-staff user themselves instead of redirecting.
ADMIN_OPEN = {"admin:login", "admin:logout", "admin:jsi18n"}


def _admin_kwargs(o: Objects) -> dict[str, Any]:
    return {
        "object_id": o.side.client.pk,
        "content_type_id": 1,
        "id": o.side.viewer.pk,
        "app_label": "collections_link",
        "url": "no-such-page/",
    }


def patterns() -> list[Pattern]:
    return list(walk())


def _url(pattern: Pattern, kind: Kind | None, o: Objects) -> str:
    kwargs = _admin_kwargs(o) if kind is None else kind.kwargs(o)
    path = fill(pattern.route, kwargs)
    assert resolve(path).route == pattern.route, f"{path} does not resolve to {pattern.route}"
    return path


def _kind(pattern: Pattern) -> Kind | None:
    if pattern.namespace == ADMIN_NAMESPACE:
        return None
    return URLS[pattern.key]


def _secrets(o: Objects) -> list[bytes]:
    """What must never appear on another client's viewer's screen."""
    return [o.side.client.name.encode(), o.side.operator.name.encode()]


# --- the tests -----------------------------------------------------------------------------


def test_every_url_of_the_project_is_known_to_this_test():
    unknown = sorted(
        {p.key for p in patterns() if p.namespace != ADMIN_NAMESPACE and p.key not in URLS}
    )

    assert not unknown, (
        "add this URL to the scoping test (tests/nps/test_scoping_all_urls.py, URLS): "
        + ", ".join(unknown)
    )


def test_the_list_names_no_url_that_is_gone():
    known = {p.key for p in patterns()}

    assert sorted(set(URLS) - known) == []


def _client_patterns() -> list[Pattern]:
    return [
        p
        for p in patterns()
        if p.namespace != ADMIN_NAMESPACE and URLS.get(p.key) and URLS[p.key].name == "client"
    ]


def test_another_clients_urls_are_404_and_reveal_nothing(world, client):
    a, b = world
    client.force_login(a.side.viewer)
    checked = 0

    for pattern in _client_patterns():
        kind = URLS[pattern.key]
        for query in kind.queries(b):
            url = _url(pattern, kind, b) + query
            for method, allowed in ((client.get, {404}), (client.post, {404, 405})):
                # A read-only API refuses a POST before looking at anything: 405 says nothing.
                response = method(url)
                assert response.status_code in allowed, (url, method.__name__, response.status_code)
                for secret in _secrets(b):
                    assert secret not in response.content, (url, secret)
                checked += 1
        # The same URL for the viewer's own client works: the 404 above is scoping, not a
        # broken URL.
        for query in kind.queries(a):
            own = client.get(_url(pattern, kind, a) + query)
            assert own.status_code == 200, (pattern.key, query, own.status_code)

    assert checked >= 20


def test_agency_pages_never_show_a_client_viewer_anything(world, client):
    a, b = world
    client.force_login(a.side.viewer)

    for pattern in patterns():
        kind = _kind(pattern)
        if kind is None or kind.name != "agency":
            continue
        url = _url(pattern, kind, b)
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code in {302, 403, 404, 405}, (url, response.status_code)
            if response.status_code == 302:
                # Only ever to the viewer's own dashboard.
                assert response["Location"].startswith(f"/dashboard/c/{a.ref}/"), url
            for secret in _secrets(b):
                assert secret not in response.content, (url, secret)


def test_public_and_signed_in_pages_name_no_other_client(world, client):
    a, b = world
    client.force_login(a.side.viewer)

    for pattern in patterns():
        kind = _kind(pattern)
        if kind is None or kind.name not in {"public", "signed_in"}:
            continue
        response = client.get(_url(pattern, kind, b))
        assert response.status_code < 500, (pattern.key, response.status_code)
        for secret in _secrets(b):
            assert secret not in response.content, (pattern.key, secret)


def test_anonymous_visitors_are_sent_to_the_login_page(world, client):
    a, _b = world

    for pattern in patterns():
        kind = _kind(pattern)
        if kind is None or kind.name not in {"client", "agency", "signed_in"}:
            continue
        path = _url(pattern, kind, a)
        response = client.get(path)
        if response.status_code == 405:
            # A POST-only action: the POST must meet the login page too.
            response = client.post(path)
        if path.startswith("/api/"):
            assert response.status_code in {401, 403}, (path, response.status_code)
            continue
        assert response.status_code == 302, (path, response.status_code)
        assert response["Location"] == f"/login/?next={quote(path)}", path


def test_admin_pages_send_a_client_viewer_to_the_admin_login(world, client):
    a, b = world
    client.force_login(a.side.viewer)
    tried = 0

    for pattern in patterns():
        if pattern.namespace != ADMIN_NAMESPACE:
            continue
        path = _url(pattern, None, b)
        response = client.get(path)
        for secret in _secrets(b):
            assert secret not in response.content, (path, secret)
        if pattern.key in ADMIN_OPEN:
            assert response.status_code in {200, 302, 405}, (path, response.status_code)
            continue
        assert response.status_code == 302, (path, response.status_code)
        assert response["Location"].startswith("/admin/login/?next="), path
        tried += 1

    assert tried >= 30
