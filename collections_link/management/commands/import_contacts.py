from __future__ import annotations

from collections_link.management.commands._import_base import ImportCommand


class Command(ImportCommand):
    help = "Import a contacts CSV file (format in the ingest contracts); idempotent."
    feed = "contacts"
