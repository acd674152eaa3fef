from django.db import migrations


def forward(apps, schema_editor):
    from surveys.seed import seed_apply

    seed_apply(apps)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
