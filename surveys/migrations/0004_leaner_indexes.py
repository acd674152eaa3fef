"""Drop indexes that other indexes already cover, so each write to invitations and responses
maintains fewer of them: the single-column indexes on client, operator and phone (each is the
first column of a composite index) and, on PostgreSQL, the pattern (LIKE) indexes Django adds
beside the unique indexes on the link token and the provider's message SID (no query matches
them with LIKE).

Only the indexes are dropped (DROP INDEX); the foreign keys stay as they are, so the migration
does not re-check every row of large tables."""

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
    ("surveys_smsmessage", "provider_sid"),
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
        if column in ("token", "provider_sid") or _single_column_indexes(schema_editor, table, column):
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
    ]
