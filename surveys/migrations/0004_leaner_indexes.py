"""Drop indexes that other indexes already cover, so each write to invitations and responses
maintains fewer of them: the single-column indexes on client, operator and phone (each is the
first column of a composite index) and, on PostgreSQL, the pattern (LIKE) index Django adds
beside the unique index on the link token (no query matches it with LIKE).

Only the indexes are dropped (DROP INDEX); the foreign keys stay as they are, so the migration
does not re-check every row of large tables.

Messages: the provider's SID is unique only where set (a partial unique index, so a new message
costs no index entry for its empty SID), and the index on (status, sending_started_at) becomes
two partial indexes, one per pass that reads them: pending messages by next attempt (requeue)
and messages in "sending" by start (the reaper)."""

import django.db.models.deletion
from django.db import migrations, models

# (table, column): drop the non-unique single-column indexes on it.
COVERED = [
    ("surveys_invitation", "client_id"),
    ("surveys_invitation", "operator_id"),
    ("surveys_invitation", "phone_e164"),
    ("surveys_invitation", "token"),
    ("surveys_response", "client_id"),
    ("surveys_response", "operator_id"),
]


def _single_column_indexes(schema_editor, table, column):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in constraints.items()
        if info["index"]
        and not info["unique"]
        and not info["primary_key"]
        and info["columns"] == [column]
    ]


def drop_covered(apps, schema_editor):
    quote = schema_editor.quote_name
    for table, column in COVERED:
        for name in _single_column_indexes(schema_editor, table, column):
            schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")


def restore(apps, schema_editor):
    quote = schema_editor.quote_name
    for table, column in COVERED:
        if column == "token" or _single_column_indexes(schema_editor, table, column):
            continue
        name = f"{table}_{column}_restored"
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} ({quote(column)})"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("collections_link", "0001_initial"),
        ("surveys", "0003_cati_callback_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_covered, restore)],
            state_operations=[
                migrations.AlterField(
                    model_name="invitation",
                    name="client",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="invitations",
                        to="collections_link.client",
                    ),
                ),
                migrations.AlterField(
                    model_name="invitation",
                    name="operator",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="invitations",
                        to="collections_link.operator",
                    ),
                ),
                migrations.AlterField(
                    model_name="invitation",
                    name="phone_e164",
                    field=models.CharField(max_length=20),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="client",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="responses",
                        to="collections_link.client",
                    ),
                ),
                migrations.AlterField(
                    model_name="response",
                    name="operator",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="responses",
                        to="collections_link.operator",
                    ),
                ),
            ],
        ),
        migrations.RemoveIndex(model_name="smsmessage", name="surveys_sms_status_91d766_idx"),
        migrations.AlterField(
            model_name="smsmessage",
            name="provider_sid",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddIndex(
            model_name="smsmessage",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["next_attempt_at"],
                name="sms_pending_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="smsmessage",
            index=models.Index(
                condition=models.Q(("status", "sending")),
                fields=["sending_started_at"],
                name="sms_sending_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="smsmessage",
            constraint=models.UniqueConstraint(
                condition=models.Q(("provider_sid__isnull", False)),
                fields=("provider_sid",),
                name="sms_provider_sid_unique",
            ),
        ),
    ]
