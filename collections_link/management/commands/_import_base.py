"""What the three import commands share: arguments, the summary, the per-row report and the
exit code (1 when any row was rejected or the file failed)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from collections_link.ingest import ImportResult, import_csv, iter_errors


class ImportCommand(BaseCommand):
    feed = ""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help=f"the {self.feed} CSV file")
        parser.add_argument(
            "--create-clients",
            action="store_true",
            help="create the clients the rows name that do not exist yet",
        )
        parser.add_argument(
            "--json", action="store_true", help="print the summary and the errors as JSON"
        )
        parser.add_argument(
            "--no-progress",
            action="store_true",
            help="never draw progress (it is drawn only on a terminal, and never when CI is set)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = import_csv(
                feed=self.feed,
                path=options["file"],
                create_clients=options["create_clients"],
                progress=False if options["no_progress"] else None,
                # The raw stream: Django's wrapper would end every redraw with a newline.
                progress_stream=getattr(self.stderr, "_out", None),
            )
        except FileNotFoundError:
            raise CommandError(f"no such file: {options['file']}", returncode=2) from None
        if options["json"]:
            self._print_json(result)
        else:
            self._print_text(result)
        if result.failed:
            raise CommandError(f"{self.feed}: the file was not imported", returncode=1)
        if result.rejected:
            raise CommandError(
                f"{self.feed}: {result.rejected} row(s) rejected; the other rows were imported",
                returncode=1,
            )

    def _print_text(self, result: ImportResult) -> None:
        self.stdout.write(
            f"{result.feed}: {result.rows_read} rows read, {result.created} created, "
            f"{result.updated} updated, {result.unchanged} unchanged, "
            f"{result.rejected} rejected"
        )
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        for line in iter_errors(result):
            self.stderr.write(line)

    def _print_json(self, result: ImportResult) -> None:
        payload = result.summary()
        payload["errors"] = [e.as_dict() for e in result.errors]
        payload["errors_truncated"] = result.errors_truncated
        self.stdout.write(json.dumps(payload, indent=2))
