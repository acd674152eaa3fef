"""The dashboard pages through Django's test client: numbers, filters in the URL, CSV exports
equal to the tables shown, charts with their words, scoping, and a bounded query count."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import replace
from html import unescape
from urllib.parse import parse_qs

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from collections_link.models import Role
from nps import selectors
from nps.dashboard_data import SECTIONS, total_row
from nps.types import NpsFilters
from tests.factories import ClientFactory, OperatorFactory, user_with_role
from tests.nps.dashboard_support import two_clients
from tests.nps.nps_support import answer_many

UTC = dt.UTC


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The benchmark across clients is cached for a few minutes; each test has its own data.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(db):
    """Acme (A): 10 web answers three days ago (4 x 10, 3 x 8, 3 x 2: NPS +10) and 5 CATI
    answers forty days ago (3 x 0, 9, 10: NPS -20). Banca Brava (B): 2 x 9, 8 x 1."""
    now = timezone.now()
    a, b = two_clients(now=now)
    answer_many(
        client=a.client,
        operator=a.operator,
        scores=[0, 0, 0, 9, 10],
        answered_at=now - dt.timedelta(days=40),
        channel="cati",
        contact_channel="home_visit",
        reason="Visita a casa, chiamatemi al 347 1234567",
    )
    return now, a, b


def _json_scripts(html: str) -> dict[str, object]:
    return {
        m.group(1): json.loads(m.group(2))
        for m in re.finditer(
            r'<script id="([\w-]+)" type="application/json">(.*?)</script>', html, re.S
        )
    }


def _headline(html: str) -> tuple[str, str]:
    value = re.search(r'data-testid="nps-value" data-value="([^"]*)"', html)
    n = re.search(r'data-testid="nps-n" data-value="([^"]*)"', html)
    assert value and n
    return value.group(1), n.group(1)


# --- numbers and filters ------------------------------------------------------------------------


def test_a_client_viewer_sees_their_own_nps_with_its_interval_and_n(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    response = client.get("/dashboard/c/acme-energia/?channel=web")
    html = response.content.decode()

    assert response.status_code == 200
    # 4 promoters, 3 passives, 3 detractors: NPS = 100 x (4 - 3) / 10 = +10.
    assert _headline(html) == ("10.0", "10")
    # Adjusted Wald: n' = 13, p' = 4.75/13, d' = 3.75/13, centre 7.69, half-width
    # 1.96 x sqrt((0.6538 - 0.0059) / 13) = 43.76: -36 to +51.
    assert "95% interval -36 to +51" in html
    assert "Banca Brava" not in html and "Pablo" not in html


def test_a_headline_on_few_answers_is_greyed_and_said_to_be_rough(world, client):
    now, a, _b = world
    client.force_login(a.viewer)
    url = "/dashboard/c/acme-energia/"

    few = client.get(url).content.decode()  # 15 answers
    assert re.search(r'class="kpi-big greyed" data-testid="nps-value"', few)
    assert "Fewer than 30 answers: the interval is wide" in few

    answer_many(client=a.client, operator=a.operator, scores=[9] * 15, answered_at=now)
    enough = client.get(url).content.decode()  # 30 answers
    assert re.search(r'class="kpi-big" data-testid="nps-value"', enough)
    assert "Fewer than 30 answers" not in enough


def test_the_filter_choices_speak_the_readers_language(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)
    italian = client.get("/dashboard/c/acme-energia/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert '<option value="phone">Telefonata</option>' in italian
    assert '<option value="payment_plan">Piano di rientro</option>' in italian
    assert '<option value="web">Pagina web</option>' in italian
    spanish = client.get("/dashboard/c/acme-energia/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<option value="home_visit">Visita a domicilio</option>' in spanish
    # Each language in the menu is named in itself, whatever the page's language.
    for code, name in (("en", "English"), ("it", "Italiano"), ("es", "Español")):
        assert f'<option value="{code}" lang="{code}"' in spanish
        assert re.search(rf'<option value="{code}" lang="{code}"[^>]*>{name}</option>', spanish)


def test_each_tab_says_which_date_its_period_picks(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)
    base = "/dashboard/c/acme-energia/"
    assert "picks answers by the day they were given" in client.get(base).content.decode()
    rates = client.get(f"{base}responses/").content.decode()
    assert "picks invitations by the date of the contact" in rates
    recovery = client.get(f"{base}recovery/").content.decode()
    assert "recovery is always measured on every account placed" in recovery


def test_filters_in_the_url_change_the_numbers(world, client):
    now, a, _b = world
    client.force_login(a.viewer)
    recent = (now - dt.timedelta(days=10)).date().isoformat()

    everything = _headline(client.get("/dashboard/c/acme-energia/").content.decode())
    cati = _headline(client.get("/dashboard/c/acme-energia/?channel=cati").content.decode())
    visits = _headline(
        client.get("/dashboard/c/acme-energia/?contact_type=home_visit").content.decode()
    )
    since = _headline(client.get(f"/dashboard/c/acme-energia/?from={recent}").content.decode())

    # All 15: 6 promoters, 3 passives, 6 detractors, NPS 0.
    assert everything == ("0.0", "15")
    # The five CATI home visits: 2 promoters, 3 detractors: -20 (n = 5 is under 10: hidden).
    assert cati == ("", "5")
    assert visits == ("", "5")
    cati_page = client.get("/dashboard/c/acme-energia/?channel=cati").content.decode()
    assert "the counts would give the NPS away" in cati_page
    assert 'class="mix"' not in cati_page
    assert since == ("10.0", "10")


def test_the_filter_form_keeps_the_filters_and_the_links_carry_them(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    html = client.get("/dashboard/c/acme-energia/?channel=web&operator=op-giulia").content.decode()

    assert '<option value="web" selected>' in html
    assert '<option value="op-giulia" selected>' in html
    assert "/dashboard/c/acme-energia/export/trend.csv?channel=web&amp;operator=op-giulia" in html
    assert "/dashboard/c/acme-energia/recovery/?channel=web&amp;operator=op-giulia" in html


def test_a_bad_filter_is_reported_and_ignored_not_a_server_error(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    response = client.get("/dashboard/c/acme-energia/?from=2026-12-01&to=2026-01-01&channel=fax")
    html = response.content.decode()

    assert response.status_code == 200
    assert "The period starts after it ends." in html or "Select a valid choice" in html
    assert _headline(html) == ("0.0", "15")


def test_one_bad_filter_is_left_out_and_the_others_still_apply(world, client):
    now, a, _b = world
    client.force_login(a.viewer)
    recent = (now - dt.timedelta(days=10)).date().isoformat()

    response = client.get(f"/dashboard/c/acme-energia/?from={recent}&contact_type=fax")
    html = response.content.decode()

    assert response.status_code == 200
    assert _headline(html) == ("10.0", "10")  # the period still applies (as alone: n 10)
    assert "These filters were not valid and are ignored" in html
    assert re.search(r"<li>Contact type: Select a valid choice\.", html)
    assert f"export/trend.csv?from={recent}" in html  # the exports keep the valid filter


# --- CSV equals the tables shown ---------------------------------------------------------------


def _csv_rows(response) -> list[list[str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("section", list(SECTIONS))
def test_every_table_on_a_page_exports_as_the_same_csv(world, client, section):
    _now, a, _b = world
    client.force_login(a.viewer)
    path = "" if section == "overview" else f"{section}/"
    query = "?channel=web"

    page = client.get(f"/dashboard/c/acme-energia/{path}{query}")
    tables = page.context["tables"]

    assert tables, "every section shows at least one table"
    for table in tables.values():
        exported = client.get(f"/dashboard/c/acme-energia/export/{table.key}.csv{query}")
        assert exported.status_code == 200
        assert exported["Content-Type"].startswith("text/csv")
        rows = _csv_rows(exported)
        assert rows[0] == table.columns
        assert rows[1:] == table.rows, table.key
        # And the HTML shows those very cells.
        html = page.content.decode()
        for row in table.rows:
            for cell in row:
                assert escape(cell) in html, (table.key, cell)


def test_the_operator_table_hides_small_groups_in_the_csv_too(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    rows = _csv_rows(client.get("/dashboard/c/acme-energia/export/operators.csv?channel=cati"))

    header, giulia = rows[0], rows[1]
    assert giulia[header.index("operator")] == "op-giulia"
    assert giulia[header.index("answers")] == "5"
    # Under 10 answers: no number at all, shrunken or raw.
    assert giulia[header.index("shrunken NPS")] == ""
    assert giulia[header.index("raw NPS")] == ""


def test_comments_are_masked_in_the_page_and_the_csv(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    html = client.get("/dashboard/c/acme-energia/scores/").content.decode()
    exported = client.get("/dashboard/c/acme-energia/export/comments.csv").content.decode()

    for text in (html, exported):
        assert "347 1234567" not in text
        assert "[phone]" in text


def test_the_overview_shows_the_latest_reasons_detractors_first(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    page = client.get("/dashboard/c/acme-energia/")
    scores = [row[1] for row in page.context["tables"]["comments_latest"].rows]

    # The last month holds ten reasons: three detractors (2) first, then the rest.
    assert scores == ["2", "2", "2", "10", "10", "10", "10", "8", "8", "8"] or scores[:3] == [
        "2",
        "2",
        "2",
    ]
    assert len(scores) == 10


def test_an_unknown_table_is_404(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    assert client.get("/dashboard/c/acme-energia/export/everything.csv").status_code == 404


# --- charts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("section", list(SECTIONS))
def test_each_chart_carries_its_figure_title_units_and_how_to_read(world, client, section):
    _now, a, _b = world
    client.force_login(a.viewer)
    path = "" if section == "overview" else f"{section}/"

    page = client.get(f"/dashboard/c/acme-energia/{path}")
    html = page.content.decode()
    scripts = _json_scripts(html)

    charts = page.context["charts"]
    assert charts
    for chart in charts.values():
        assert chart["title"] and chart["units"] and chart["how_to_read"]
        assert f'<h2>{chart["title"]} <span class="units">({chart["units"]})</span></h2>' in (
            html.replace("&#x27;", "'")
        )
        if chart["empty"]:
            assert f'data-testid="{chart["key"]}-empty"' in html
            continue
        figure = scripts[f"{chart['key']}-data"]
        assert figure["data"] and figure["layout"]
        assert f'data-figure="{chart["key"]}-data"' in html
    # No inline script: only JSON blocks and the two local script files.
    assert re.findall(r"<script(?![^>]*(?:application/json|src=))", html) == []


def test_plotly_is_served_from_our_own_static_files(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    html = client.get("/dashboard/c/acme-energia/").content.decode()

    assert f'src="{settings.STATIC_URL}vendor/plotly-basic.min.js"'.replace("//", "/") in html
    assert "cdn" not in html.lower()


def test_the_charts_say_what_the_numbers_say(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    overview = client.get("/dashboard/c/acme-energia/").context["charts"]
    scores = client.get("/dashboard/c/acme-energia/scores/").context["charts"]

    distribution = scores["distribution"]["figure"]["data"]
    # Detractors 0-6, passives 7-8, promoters 9-10, coloured by group.
    assert [t["x"] for t in distribution] == [
        ["0", "1", "2", "3", "4", "5", "6"],
        ["7", "8"],
        ["9", "10"],
    ]
    assert distribution[0]["y"] == [3, 0, 3, 0, 0, 0, 0]
    assert distribution[1]["y"] == [0, 3]
    assert distribution[2]["y"] == [1, 5]
    channels = overview["channels"]["figure"]["data"][0]
    # CATI has 5 answers (hidden: no bar), the web 10 (+10).
    assert channels["y"] == [None, 10.0]
    assert channels["x"][0].endswith("n = 5")
    trend = overview["trend"]["figure"]["data"]
    line = next(t for t in trend if t.get("mode") == "lines+markers")
    bars = next(t for t in trend if t["type"] == "bar")
    # Two months with answers, with the month between them empty (n = 0, no point).
    assert bars["y"][0] == 5 and bars["y"][-1] == 10
    assert line["y"][0] is None and line["y"][-1] == 10.0


# --- operator page ------------------------------------------------------------------------------


def test_the_operator_page_shows_a_small_sample_as_nothing_to_rank(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    page = client.get("/dashboard/c/acme-energia/operators/op-giulia/?channel=cati")
    html = page.content.decode()

    assert "Fewer than 10 answers (n = 5)" in html
    assert 'data-testid="operator-nps"' not in html


def test_the_operator_page_compares_with_the_client(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    page = client.get("/dashboard/c/acme-energia/operators/op-giulia/")
    html = page.content.decode()
    figure = _json_scripts(html)["operator-trend-data"]

    names = [t.get("name") for t in figure["data"]]
    assert "Giulia Bianchi" in names and "Acme Energia" in names
    assert 'data-testid="operator-nps"' in html  # 15 answers: the shrunken value, greyed
    assert "greyed" in html


def test_raw_comparisons_wait_until_the_raw_nps_may_be_shown(world, client):
    """Under 30 answers only the shrunken estimate is shown: no raw gap to the client, no
    channel-adjusted NPS. From 30, the gap to the *rest* of the client, with a readable p."""
    now, a, _b = world
    marco = OperatorFactory.create(client=a.client, ref="op-marco", name="Marco Neri")
    answer_many(client=a.client, operator=marco, scores=[0] * 30, answered_at=now)
    client.force_login(a.viewer)
    url = "/dashboard/c/acme-energia/operators/op-giulia/"

    small = client.get(url).content.decode()  # Giulia: 15 answers
    assert "Between 10 and 29 answers" in small
    assert "Against the rest of the client" not in small
    assert "Adjusted for survey channel" not in small

    answer_many(client=a.client, operator=a.operator, scores=[10] * 20, answered_at=now)
    shown = client.get(url).content.decode()  # 35 answers: 26 x 10, 1 x 9, 3 x 8, 5 x 0...
    assert "Raw NPS" in shown
    assert "Against the rest of the client" in shown
    card = re.search(r"Against the rest of the client</div>.*?</p>", shown, re.DOTALL)
    assert card is not None, shown
    assert "Unlikely to be chance (p below 0.001)." in card.group(0), card.group(0)
    assert "p = 0.000" not in shown


def test_another_clients_operator_is_404_on_my_clients_url(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    response = client.get("/dashboard/c/acme-energia/operators/op-pablo/")

    assert response.status_code == 404
    assert b"Pablo" not in response.content


# --- benchmark ----------------------------------------------------------------------------------


def test_the_benchmark_names_only_the_viewers_own_client(world, client):
    now, a, _b = world
    for i, name in enumerate(["Credito Centro", "Delta Luce", "Eco Gas"]):
        other = ClientFactory.create(ref=f"peer-{i}", name=name)
        op = OperatorFactory.create(ref=f"op-peer-{i}", client=other)
        answer_many(client=other, operator=op, scores=[9] * (5 + i) + [3] * 6, answered_at=now)
    client.force_login(a.viewer)

    page = client.get("/dashboard/c/acme-energia/")
    html = page.content.decode()
    labels = page.context["charts"]["benchmark"]["figure"]["data"][0]["x"]

    assert "Acme Energia" in labels
    assert sorted(label for label in labels if label != "Acme Energia") == [
        "Client A",
        "Client B",
        "Client C",
        "Client D",
    ]
    for name in ("Banca Brava", "Credito Centro", "Delta Luce", "Eco Gas"):
        assert name not in html
    assert page.context["benchmark_rank"] is not None


def test_no_benchmark_when_too_few_peers_to_stay_anonymous(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    page = client.get("/dashboard/c/acme-energia/")

    assert "benchmark" not in page.context["charts"]
    assert "Banca Brava" not in page.content.decode()
    # Nor an empty file offered for download.
    assert "benchmark" not in page.context["tables"]
    assert 'data-export="benchmark"' not in page.content.decode()


# --- agency and roles ---------------------------------------------------------------------------


def test_the_agency_sees_every_client_and_the_supervisor_counts(world, client):
    _now, _a, _b = world
    supervisor = user_with_role("sara", Role.SUPERVISOR)
    client.force_login(supervisor)

    page = client.get("/dashboard/")
    html = page.content.decode()

    assert page.status_code == 200
    assert "Acme Energia" in html and "Banca Brava" in html
    assert 'data-testid="overdue-count"' in html
    exported = _csv_rows(client.get("/dashboard/export/clients.csv"))
    assert [row[0] for row in exported[1:]] == ["Acme Energia", "Banca Brava"]
    assert exported[1:] == page.context["table"].rows
    picked = client.get("/dashboard/?c=banca-brava&channel=web")
    assert picked["Location"] == "/dashboard/c/banca-brava/?channel=web"


def test_a_client_viewer_is_sent_to_their_own_dashboard(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    response = client.get("/dashboard/?channel=web")
    picked = client.get("/dashboard/?c=banca-brava")

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/c/acme-energia/?channel=web"
    assert picked.status_code == 302 and "banca-brava" not in picked["Location"]
    assert client.get("/dashboard/export/clients.csv").status_code == 404


def test_a_caller_has_no_dashboard(world, client):
    client.force_login(user_with_role("carlo", Role.CALLER))

    assert client.get("/dashboard/").status_code == 404
    assert client.get("/dashboard/c/acme-energia/").status_code == 404


def test_the_page_speaks_italian_and_spanish(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "it"
    italian = client.get("/dashboard/c/acme-energia/").content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    spanish = client.get("/dashboard/c/acme-energia/").content.decode()

    assert "NPS nel tempo" in italian and "Esporta" in italian
    assert "NPS a lo largo del tiempo" in spanish and "Exportar" in spanish


def test_the_language_switch_keeps_the_page(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)

    response = client.post(
        "/dashboard/language/", {"language": "es", "next": "/dashboard/c/acme-energia/?x=1"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/c/acme-energia/?x=1"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"


# --- query count --------------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_overview_query_count_is_bounded_and_does_not_grow_with_the_data(world, client):
    now, a, _b = world
    client.force_login(a.viewer)
    small = _queries(client, "/dashboard/c/acme-energia/")

    for i in range(6):
        op = OperatorFactory.create(ref=f"op-extra-{i}", client=a.client)
        answer_many(
            client=a.client,
            operator=op,
            scores=[10, 9, 8, 3] * 3,
            answered_at=now - dt.timedelta(days=70 + i * 31),
            reason="ok",
        )
    large = _queries(client, "/dashboard/c/acme-energia/")

    assert small <= 25
    assert large == small


def test_the_headline_is_the_selectors_overall_row(world):
    """The page sums its per-channel rows for the headline; that must be nps_overall()."""
    _now, a, _b = world
    filters = NpsFilters(client_ids=[a.client.pk])

    for narrowed in (filters, replace(filters, channels=["cati"]), replace(filters, channels=[])):
        by_channel = selectors.nps_table(filters=narrowed, group_by=["channel"])
        assert total_row(by_channel) == selectors.nps_overall(filters=narrowed)


def test_quick_periods_are_whole_months_and_keep_the_other_filters(world, client):
    _now, a, _b = world
    client.force_login(a.viewer)
    today = timezone.localdate()
    three_months_back = (today.year * 12 + today.month - 1) - 2
    start = dt.date(three_months_back // 12, three_months_back % 12 + 1, 1)

    html = client.get("/dashboard/c/acme-energia/?channel=web&to=2030-01-01").content.decode()
    links = {
        label: parse_qs(unescape(query))
        for query, label in re.findall(r'<a href="\?([^"]*)"[^>]*>([^<]+)</a>', html)
    }

    assert links["Last 3 months"] == {"channel": ["web"], "from": [start.isoformat()]}
    assert links["Last year"] == {
        "channel": ["web"],
        "from": [f"{today.year - 1}-01-01"],
        "to": [f"{today.year - 1}-12-31"],
    }
    assert links["All time"] == {"channel": ["web"]}
