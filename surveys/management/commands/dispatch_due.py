from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from surveys.dispatch import invitations_dispatch, messages_reap, messages_requeue
from surveys.management.commands.plan_surveys import parse_now


class Command(BaseCommand):
    help = "One pass of the dispatcher: send what is due now (or at --now)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", help="Dispatch as if it were this instant (ISO 8601)")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        now = parse_now(options["now"])
        reaped = messages_reap(now=now)
        requeued = messages_requeue(now=now)
        summary = invitations_dispatch(now=now, batch_size=options["batch_size"])
        self.stdout.write(
            f"Claimed {summary.claimed} due invitation(s): {summary.queued} message(s) queued, "
            f"{summary.rescheduled} moved to the next window, {summary.cancelled} cancelled "
            f"(opted out), {summary.expired} expired; {requeued} message(s) queued again, "
            f"{reaped} stuck message(s) returned."
        )
