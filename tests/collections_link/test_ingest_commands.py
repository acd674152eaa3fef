"""The import commands: summary, per-row report, exit codes, and progress that shows on a
terminal only."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, load_command_class

from collections_link.models import Account
from collections_link.progress import Progress, progress_wanted
from tests.collections_link.ingest_support import (
    ACCOUNTS_HEADER,
    DATA,
    make_acme,
    make_luz,
    write_csv,
)

pytestmark = pytest.mark.django_db

GOOD = "acme-energia,A-1,C-1,+39 333 123 4567,IT,it,2026-10-01,412.80,EUR"
BAD_PHONE = "acme-energia,A-2,C-2,12ab,IT,it,2026-10-01,10.00,EUR"


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as a person's stderr does."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def clients() -> None:
    make_acme()
    make_luz()


def test_a_clean_file_prints_the_summary_and_exits_zero() -> None:
    out, err = io.StringIO(), io.StringIO()

    call_command("import_accounts", str(DATA / "accounts.csv"), stdout=out, stderr=err)

    assert out.getvalue() == (
        "accounts: 4 rows read, 4 created, 0 updated, 0 unchanged, 0 rejected\n"
    )
    assert err.getvalue() == ""


def test_rejected_rows_are_listed_on_stderr_and_the_command_fails(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "a.csv", ACCOUNTS_HEADER, GOOD, BAD_PHONE)
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError) as failure:
        call_command("import_accounts", str(path), stdout=out, stderr=err)

    assert failure.value.returncode == 1
    assert str(failure.value) == ("accounts: 1 row(s) rejected; the other rows were imported")
    assert out.getvalue() == (
        "accounts: 2 rows read, 1 created, 0 updated, 0 unchanged, 1 rejected\n"
    )
    assert err.getvalue() == "line 3, column debtor_phone: '12ab' is not a phone number for IT\n"
    assert list(Account.objects.values_list("ref", flat=True)) == ["A-1"]


def test_from_the_command_line_a_rejected_row_exits_with_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, "a.csv", ACCOUNTS_HEADER, GOOD, BAD_PHONE)
    command = load_command_class("collections_link", "import_accounts")

    with pytest.raises(SystemExit) as exit_:
        command.run_from_argv(["manage.py", "import_accounts", str(path)])

    assert exit_.value.code == 1
    assert "line 3, column debtor_phone" in capsys.readouterr().err


def test_from_the_command_line_a_clean_file_exits_with_status_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    command = load_command_class("collections_link", "import_contacts")
    call_command("import_accounts", str(DATA / "accounts.csv"), stdout=io.StringIO())

    # run_from_argv returns normally (status 0) when nothing was rejected.
    command.run_from_argv(["manage.py", "import_contacts", str(DATA / "contacts.csv")])

    assert "contacts: 4 rows read, 4 created" in capsys.readouterr().out


def test_a_file_level_error_fails_the_command(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    err = io.StringIO()

    with pytest.raises(CommandError, match="payments: the file was not imported"):
        call_command("import_payments", str(path), stdout=io.StringIO(), stderr=err)

    assert err.getvalue().startswith("line 1: the file is empty")


def test_a_missing_file_fails_the_command(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_accounts", str(tmp_path / "nope.csv"))


def test_json_output_has_the_counts_and_every_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "a.csv", ACCOUNTS_HEADER + ",notes", GOOD + ",x", BAD_PHONE + ",")
    out = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_accounts", str(path), "--json", stdout=out, stderr=io.StringIO())

    payload = json.loads(out.getvalue())
    assert {k: payload[k] for k in ("feed", "rows_read", "created", "rejected", "failed")} == {
        "feed": "accounts",
        "rows_read": 2,
        "created": 1,
        "rejected": 1,
        "failed": False,
    }
    assert payload["errors"] == [
        {"line": 3, "column": "debtor_phone", "reason": "'12ab' is not a phone number for IT"}
    ]
    assert payload["warnings"] == ["ignored column(s) not in the accounts feed: notes"]


def _big_accounts_file(directory: Path, rows: int) -> Path:
    lines = [
        f"acme-energia,A-{i},C-{i},+39 333 {i:07d},IT,it,2026-10-01,10.00,EUR" for i in range(rows)
    ]
    return write_csv(directory, "big.csv", ACCOUNTS_HEADER, *lines)


@pytest.mark.slow
def test_progress_is_drawn_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    terminal = Terminal()

    call_command(
        "import_accounts",
        str(_big_accounts_file(tmp_path, 1100)),
        stdout=io.StringIO(),
        stderr=terminal,
    )

    drawn = terminal.getvalue()
    assert "\raccounts: reading: 1,024 rows, " in drawn
    assert " rows/s, " in drawn
    assert " left" in drawn
    assert Account.objects.count() == 1100


@pytest.mark.slow
@pytest.mark.parametrize(("ci", "tty"), [("true", True), ("", False)])
def test_progress_stays_quiet_in_ci_and_when_stderr_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str, tty: bool
) -> None:
    monkeypatch.setenv("CI", ci)
    stderr = Terminal() if tty else io.StringIO()

    call_command(
        "import_accounts",
        str(_big_accounts_file(tmp_path, 1100)),
        stdout=io.StringIO(),
        stderr=stderr,
    )

    assert stderr.getvalue() == ""


def test_progress_wanted_only_on_a_terminal_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert progress_wanted(Terminal()) is True
    assert progress_wanted(io.StringIO()) is False
    monkeypatch.setenv("CI", "true")
    assert progress_wanted(Terminal()) is False
    monkeypatch.setenv("CI", "false")
    assert progress_wanted(Terminal()) is True


def test_the_progress_line_shows_rows_rate_and_time_left() -> None:
    bar = Progress(label="contacts: reading", total=1000, stream=Terminal(), enabled=True)
    bar._start -= 10  # ten seconds ago

    bar.update(rows=250_000, done=250)

    # A quarter of the bytes in 10 s: 30 s to go, at 25,000 rows/s.
    assert bar.line(now=bar._start + 10) == (
        "contacts: reading: 250,000 rows, 25,000 rows/s, 25%, about 0:30 left"
    )
