"""`python manage.py sms_outbox [--json] [--limit N]`: the messages the outbox backend sent."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from surveys.outbox import outbox_messages, outbox_row


class Command(BaseCommand):
    help = "Print the SMS the outbox backend has sent (recipient, body, link, time), newest first."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print a JSON list.")
        parser.add_argument("--limit", type=int, default=50, help="How many messages (default 50).")

    def handle(self, *args: Any, **options: Any) -> None:
        limit: int = options["limit"]
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        rows = [outbox_row(m) for m in outbox_messages()[:limit]]
        if options["json"]:
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not rows:
            self.stdout.write("The outbox is empty.")
            return
        for row in rows:
            self.stdout.write(
                f"{row['created_at']}  to {row['to']}  [{row['kind']}, {row['status']}]"
            )
            self.stdout.write(f"  {row['body']}")
            if row["link"]:
                self.stdout.write(f"  link: {row['link']}")
