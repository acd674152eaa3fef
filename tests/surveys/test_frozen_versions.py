"""A survey version never changes its questions: the database refuses it, so an answer keeps the
wording it answered and the survey page can read a version's wording once per process."""

from __future__ import annotations

import copy

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from surveys.models import Survey, SurveyVersion
from surveys.page_state import version_wording
from tests.surveys.page_support import default_version, page_url, sent_invitation

pytestmark = pytest.mark.django_db


def reworded(version: SurveyVersion) -> list[dict]:
    questions = copy.deepcopy(version.questions)
    questions[0]["text"]["en"] = "How likely are you to recommend us? (new wording)"
    return questions


def test_changing_a_versions_questions_is_refused_by_the_database() -> None:
    version = default_version()
    before = copy.deepcopy(version.questions)
    version.questions = reworded(version)
    with pytest.raises(IntegrityError, match="survey versions are frozen"), transaction.atomic():
        version.save()
    with pytest.raises(IntegrityError, match="survey versions are frozen"), transaction.atomic():
        SurveyVersion.objects.filter(pk=version.pk).update(questions=reworded(version))
    frozen = pytest.raises(IntegrityError, match="survey versions are frozen")
    with frozen, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SurveyVersion._meta.db_table} SET questions = %s WHERE id = %s",
            ['[{"key": "nps"}]', version.pk],
        )
    assert SurveyVersion.objects.get(pk=version.pk).questions == before


def test_a_new_wording_is_a_new_version_and_other_fields_may_change() -> None:
    version = default_version()
    version.refresh_from_db()
    version.save()  # the same questions written back: allowed
    survey: Survey = version.survey
    newer = SurveyVersion.objects.create(
        survey=survey, number=version.number + 1, questions=reworded(version)
    )
    SurveyVersion.objects.filter(pk=newer.pk).update(number=version.number + 2)
    assert SurveyVersion.objects.get(pk=newer.pk).number == version.number + 2


def _pg_version_scans() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = %s",
            [SurveyVersion._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def version_reads(client, url: str) -> int:
    """GET the page; how many times it read the survey version table. On PostgreSQL the page's
    statement runs on a raw psycopg cursor that Django does not log, so the table's statistics
    for this test's transaction count them; on SQLite, Django's log does."""
    if connection.vendor == "postgresql":
        before = _pg_version_scans()
        response = client.get(url)
        reads = _pg_version_scans() - before
    else:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        reads = sum(SurveyVersion._meta.db_table in q["sql"] for q in captured.captured_queries)
    assert response.status_code == 200
    assert "Domanda 1 di 4" in response.content.decode()
    return reads


def test_the_page_reads_a_versions_wording_once_then_only_the_link(client) -> None:
    first, second = sent_invitation(), sent_invitation(phone="+393339876543")
    assert first.survey_version_id == second.survey_version_id
    version_wording.cache_clear()  # as in a process that just started
    assert version_reads(client, page_url(first)) == 1
    assert [version_reads(client, page_url(second)) for _ in range(3)] == [0, 0, 0]
    assert version_reads(client, page_url(first)) == 0
