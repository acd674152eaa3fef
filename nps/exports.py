"""Tables as plain rows and as CSV: one shape for the API's JSON, its `?format=csv`, and the
dashboard's exports, so every number on screen can be taken away exactly as shown.

The CSV is UTF-8 with a byte-order mark (spreadsheet programs then read accents right),
comma-separated, one header row. A text cell that starts with = + - @ (or a tab or carriage
return) is prefixed with an apostrophe so a spreadsheet shows it instead of running it as a
formula; numbers are written as numbers (a negative NPS stays a number).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.http import HttpResponse

from nps.types import NpsRow

# The API and the exports call the contact channel "contact_type" (phone or home visit).
API_KEY_NAMES: dict[str, str] = {"contact_channel": "contact_type"}
NPS_FIELDS: tuple[str, ...] = (
    "n",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "ci_low",
    "ci_high",
    "shrunk_nps",
    "shrunk_low",
    "shrunk_high",
    "state",
)
_POINTS_DECIMALS = 2
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def api_key(name: str) -> str:
    return API_KEY_NAMES.get(name, name)


def _points(value: float | None) -> float | None:
    return None if value is None else round(value, _POINTS_DECIMALS)


def nps_columns(group_by: Sequence[str]) -> list[str]:
    """Columns of an NPS table grouped by `group_by`: the keys (with the operator's and the
    client's name beside their reference), then the counts and scores."""
    columns: list[str] = []
    for key in group_by:
        columns.append(api_key(key))
        if key == "operator":
            columns.append("operator_name")
        elif key == "client":
            columns.append("client_name")
    return [*columns, *NPS_FIELDS]


def nps_row_dict(row: NpsRow, group_by: Sequence[str]) -> dict[str, Any]:
    """One NpsRow as a flat dict in nps_columns() order; NPS points rounded to 0.01."""
    out: dict[str, Any] = {}
    for key in group_by:
        out[api_key(key)] = row.keys.get(key)
        if key == "operator":
            out["operator_name"] = row.extra.get("operator_name")
        elif key == "client":
            out["client_name"] = row.extra.get("client_name")
    # The display rules hold in exports too (nps.stats.display_state): a hidden group gives
    # only its n (its counts would give its NPS away), a shrunk-only one only its shrunken
    # estimate.
    raw = row.state not in {"hidden", "shrunk_only"}
    out.update(
        n=row.n,
        promoters=row.promoters if raw else None,
        passives=row.passives if raw else None,
        detractors=row.detractors if raw else None,
        nps=_points(row.nps) if raw else None,
        ci_low=_points(row.ci_low) if raw else None,
        ci_high=_points(row.ci_high) if raw else None,
        shrunk_nps=_points(row.shrunk_nps),
        shrunk_low=_points(row.shrunk_low),
        shrunk_high=_points(row.shrunk_high),
        state=row.state,
    )
    return out


RATE_FIELDS: tuple[str, ...] = (
    "cases",
    "open",
    "I",
    "P",
    "R",
    "NC",
    "O",
    "UH",
    "UO",
    "NE",
    "rr1",
    "rr2",
    "rr3",
    "rr4",
    "coop1",
    "coop2",
    "ref1",
    "con1",
    "e",
    "sms_sent",
    "sms_delivered",
    "sms_opened",
    "sms_completed",
    "delivered_rate",
    "delivered_low",
    "delivered_high",
    "opened_rate",
    "opened_low",
    "opened_high",
    "completed_rate",
    "completed_low",
    "completed_high",
)
_RATE_DECIMALS = 4


def rates_columns(group_by: Sequence[str]) -> list[str]:
    return [*nps_columns(group_by)[: -len(NPS_FIELDS)], *RATE_FIELDS]


def rates_row_dict(row: Mapping[str, Any], group_by: Sequence[str]) -> dict[str, Any]:
    """One response_rates() row as a flat dict in rates_columns() order; rates (fractions
    0..1) rounded to 0.0001."""
    out: dict[str, Any] = {}
    keys, extra = row["keys"], row["extra"]
    for key in group_by:
        out[api_key(key)] = keys.get(key)
        if key == "operator":
            out["operator_name"] = extra.get("operator_name")
        elif key == "client":
            out["client_name"] = extra.get("client_name")
    for name in RATE_FIELDS:
        value = row[name]
        out[name] = round(value, _RATE_DECIMALS) if isinstance(value, float) else value
    return out


RECOVERY_POINT_COLUMNS: tuple[str, ...] = (
    "operator_ref",
    "operator_name",
    "n",
    "state",
    "shrunk_nps",
    "accounts",
    "currency",
    "recovery_rate",
)


def recovery_point_dict(point: Mapping[str, Any]) -> dict[str, Any]:
    out = {name: point.get(name) for name in RECOVERY_POINT_COLUMNS}
    out["shrunk_nps"] = _points(point.get("shrunk_nps"))
    rate = point.get("recovery_rate")
    out["recovery_rate"] = None if rate is None else round(float(rate), _RATE_DECIMALS)
    return out


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    # A formula in a spreadsheet cell runs when the file is opened: neutralise it.
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(out: Any, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write the header and the rows (dicts; missing keys are empty cells) to a text stream."""
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    write_csv(buffer, rows, columns)
    return buffer.getvalue()


def csv_response(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, filename: str, status: int = 200
) -> HttpResponse:
    """An HTTP download of the table."""
    response = HttpResponse(
        csv_text(rows, columns), content_type="text/csv; charset=utf-8", status=status
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
