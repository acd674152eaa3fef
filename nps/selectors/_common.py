"""Building blocks the NPS selectors share: which responses a filter selects, how the group
keys are named in SQL, and how ids become the references people read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from collections_link.models import Client, Operator
from nps.rollup import local_midnight
from nps.types import GROUP_BYS, NpsFilters
from surveys.models import Response

PERIOD_KEYS: frozenset[str] = frozenset({"week", "month", "quarter"})


@contextmanager
def without_jit() -> Iterator[None]:
    """Run the queries inside with PostgreSQL's JIT compilation off.

    The selectors that walk every invitation or response of a client (response rates,
    payment after the answer, respondents against non-respondents) have plan costs far above
    ``jit_above_cost``, so PostgreSQL compiles their long CASE expressions with LLVM first:
    on 5,000,000 responses that compilation alone took one to two seconds per query, more
    than the scan it was meant to speed up. ``SET LOCAL`` lasts until the transaction ends
    (the one opened here, or the caller's if there is one); other databases are left as
    they are."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        yield


def check_group_by(group_by: Sequence[str]) -> list[str]:
    """The group keys as a list, refusing unknown, repeated or competing period keys."""
    keys = list(group_by)
    unknown = [k for k in keys if k not in GROUP_BYS]
    if unknown:
        raise ValueError(
            f"unknown group_by {', '.join(map(repr, unknown))}; allowed: {', '.join(GROUP_BYS)}"
        )
    if len(set(keys)) != len(keys):
        raise ValueError("group_by names a key twice")
    if len(PERIOD_KEYS.intersection(keys)) > 1:
        raise ValueError("group_by takes one period at most (week, month or quarter)")
    return keys


def day_range(filters: NpsFilters) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start, end) instants of the filter's local days: from the first day's midnight to the
    midnight after the last day, so the answer-time index serves the range."""
    start = local_midnight(filters.date_from) if filters.date_from else None
    end = local_midnight(filters.date_to + dt.timedelta(days=1)) if filters.date_to else None
    return start, end


def scored_responses(filters: NpsFilters) -> QuerySet[Response]:
    """Responses that carry a score and pass the filters. A partial response (the debtor
    stopped after the score) counts: the score is the answer that matters."""
    responses = Response.objects.filter(score__isnull=False, client_id__in=list(filters.client_ids))
    return responses.filter(response_filter_q(filters))


def response_filter_q(filters: NpsFilters, *, prefix: str = "") -> Q:
    """The non-client filters as a Q on Response (or on a relation to it, with `prefix`)."""
    q = Q()
    if filters.operator_ids is not None:
        q &= Q(**{f"{prefix}operator_id__in": list(filters.operator_ids)})
    if filters.channels is not None:
        q &= Q(**{f"{prefix}channel__in": list(filters.channels)})
    if filters.contact_channels is not None:
        q &= Q(**{f"{prefix}contact_channel__in": list(filters.contact_channels)})
    if filters.outcomes is not None:
        q &= Q(**{f"{prefix}contact_outcome__in": list(filters.outcomes)})
    start, end = day_range(filters)
    if start is not None:
        q &= Q(**{f"{prefix}answered_at__gte": start})
    if end is not None:
        q &= Q(**{f"{prefix}answered_at__lt": end})
    return q


def restrict_to_client(filters: NpsFilters, client_id: int) -> NpsFilters | None:
    """The filters narrowed to one client, or None when that client is not among the
    caller's (selectors never widen `client_ids`)."""
    if client_id not in set(filters.client_ids):
        return None
    return NpsFilters(
        client_ids=[client_id],
        operator_ids=filters.operator_ids,
        channels=filters.channels,
        contact_channels=filters.contact_channels,
        outcomes=filters.outcomes,
        date_from=filters.date_from,
        date_to=filters.date_to,
    )


class Names:
    """Refs and names of the clients and operators that appear in a result, in two queries."""

    def __init__(self, *, client_ids: set[int], operator_ids: set[int]) -> None:
        self.clients: dict[int, Client] = (
            Client.objects.in_bulk(sorted(client_ids)) if client_ids else {}
        )
        self.operators: dict[int, Operator] = (
            Operator.objects.in_bulk(sorted(operator_ids)) if operator_ids else {}
        )

    def client_ref(self, pk: int) -> str:
        client = self.clients.get(pk)
        return client.ref if client else str(pk)

    def operator_ref(self, pk: int) -> str:
        operator = self.operators.get(pk)
        return operator.ref if operator else str(pk)

    def operator_name(self, pk: int) -> str:
        operator = self.operators.get(pk)
        return (operator.name or operator.ref) if operator else str(pk)

    def client_extra(self, pk: int) -> dict[str, Any]:
        client = self.clients.get(pk)
        return {"client_id": pk, "client_name": client.name if client else str(pk)}

    def operator_extra(self, pk: int) -> dict[str, Any]:
        return {"operator_id": pk, "operator_name": self.operator_name(pk)}

    @classmethod
    def of_cells(cls, keys: Sequence[str], cells: Iterable[Sequence[Any]]) -> Names:
        """The names of the clients and operators among result cells keyed by `keys`."""
        cells = list(cells)
        ids = {
            key: {cell[keys.index(key)] for cell in cells} if key in keys else set()
            for key in ("client", "operator")
        }
        return cls(client_ids=ids["client"], operator_ids=ids["operator"])

    def readable(
        self, keys: Sequence[str], cell: Sequence[Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A result cell as (keys, extra): clients and operators by ref, with their ids and
        names in `extra`; other keys as they are."""
        keys_out: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for name, value in zip(keys, cell, strict=True):
            if name == "client":
                keys_out[name] = self.client_ref(value)
                extra.update(self.client_extra(value))
            elif name == "operator":
                keys_out[name] = self.operator_ref(value)
                extra.update(self.operator_extra(value))
            else:
                keys_out[name] = value
        return keys_out, extra
