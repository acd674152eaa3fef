"""The busiest tables carry no index that another index already covers: every index is one
more write on each insert and status change (the dispatcher, the survey page, the planner)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Model

from surveys.models import Invitation, Response, SmsMessage

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Invitation, Response])
def test_no_index_is_the_leading_part_of_another(model: type[Model]) -> None:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexes = {
        name: info["columns"]
        for name, info in constraints.items()
        if (info["index"] or info["unique"]) and not info["primary_key"]
    }
    unique = {name for name, info in constraints.items() if info["unique"]}
    covered = [
        (name, other)
        for name, columns in indexes.items()
        for other, longer in indexes.items()
        if name != other
        and name not in unique
        and len(columns) <= len(longer)
        and longer[: len(columns)] == columns
    ]
    assert covered == [], f"{table}: indexes covered by another: {covered}"
    # The lookups that need an index still have one.
    leading = {tuple(columns[:1]) for columns in indexes.values()}
    for column in ("client_id", "operator_id"):
        assert (column,) in leading
    if model is Invitation:
        assert ("token",) in leading
        assert ("phone_e164",) in leading


@pytest.mark.parametrize(
    ("model", "column"),
    [(Invitation, "token"), (Invitation, "phone_e164"), (SmsMessage, "provider_sid")],
)
def test_columns_matched_only_whole_carry_one_index(model: type[Model], column: str) -> None:
    # PostgreSQL gets a second (pattern, LIKE) index beside a unique varchar one; nothing here
    # matches these columns by prefix, so it would only cost writes.
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    on_column = [
        name
        for name, info in constraints.items()
        if (info["index"] or info["unique"]) and info["columns"] == [column]
    ]
    assert len(on_column) <= 1, on_column
