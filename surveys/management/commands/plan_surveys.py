from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from surveys.planner import contacts_plan


def parse_now(value: str | None) -> dt.datetime:
    if not value:
        return timezone.now()
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"--now {value!r} is not an ISO 8601 date and time")
    if timezone.is_naive(parsed):
        raise CommandError(f"--now {value!r} needs an offset, e.g. 2026-11-20T19:55:00+01:00")
    return parsed


class Command(BaseCommand):
    help = "One pass of the planner: decide for every contact that has no survey plan yet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", help="Plan as if it were this instant (ISO 8601, offset)")
        parser.add_argument("--limit", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        summary = contacts_plan(now=parse_now(options["now"]), limit=options["limit"])
        if summary.skipped_locked:
            self.stdout.write("Another planner is running; nothing done.")
            return
        self.stdout.write(
            f"Planned {summary.planned} contact(s): {summary.invited} SMS invitation(s), "
            f"{summary.to_cati} CATI case(s), {sum(summary.suppressed.values())} suppressed."
        )
        for reason, count in sorted(summary.suppressed.items()):
            self.stdout.write(f"  suppressed, {reason}: {count}")
