"""A survey version's questions can no longer change, in the database itself.

An answer keeps the wording it answered, and the survey page reads a version's wording once
per process by its id (`surveys.page_state.version_wording`): both rely on a version never
changing. A new wording is a new version. The trigger refuses an UPDATE that changes the
questions, whoever sends it (the ORM, a queryset update, a shell, raw SQL).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import migrations

MESSAGE = "survey versions are frozen: create a new version instead of changing its questions"

POSTGRESQL = [
    f"""
CREATE FUNCTION surveys_surveyversion_frozen() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
END
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER surveys_surveyversion_frozen
BEFORE UPDATE OF questions ON surveys_surveyversion
FOR EACH ROW WHEN (NEW.questions IS DISTINCT FROM OLD.questions)
EXECUTE FUNCTION surveys_surveyversion_frozen()
""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS surveys_surveyversion_frozen ON surveys_surveyversion",
    "DROP FUNCTION IF EXISTS surveys_surveyversion_frozen()",
]
SQLITE = [
    f"""
CREATE TRIGGER surveys_surveyversion_frozen
BEFORE UPDATE OF questions ON surveys_surveyversion
FOR EACH ROW WHEN NEW.questions IS NOT OLD.questions
BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
""",
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS surveys_surveyversion_frozen"]


def per_vendor(statements: dict[str, list[str]]) -> Callable[[Any, Any], None]:
    """A RunPython step that executes the statements written for the database in use."""

    def run(apps: Any, schema_editor: Any) -> None:
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("surveys", "0004_leaner_indexes")]

    operations = [
        migrations.RunPython(
            per_vendor({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            per_vendor({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
        )
    ]
