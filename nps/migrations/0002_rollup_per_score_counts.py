from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def forget_high_water(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """The rows already in the roll-up have no per-score counts: with no high-water mark the
    selectors read the raw responses, and the next refresh rebuilds the roll-up whole."""
    apps.get_model("nps", "RollupState").objects.update(high_water=None)


class Migration(migrations.Migration):
    dependencies = [
        ("nps", "0001_initial"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name="npsrollup",
                name=f"score_{score}",
                field=models.PositiveIntegerField(default=0),
            )
            for score in range(11)
        ),
        migrations.RunPython(forget_high_water, migrations.RunPython.noop),
    ]
