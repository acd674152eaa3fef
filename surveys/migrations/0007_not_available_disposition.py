"""A call answered by someone else while the debtor is out is no longer a wrong number.

The new disposition "not_available" (AAPOR 2.21, respondent not available: a non-contact, not
final) brings the case back after the no-answer delay; "wrong_number" is now for a number where
nobody knows the debtor, and says so. A label an administrator changed is left as it is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import migrations
from django.db.models import F

OLD_WRONG_NUMBER = "Wrong number / not the debtor"
NEW_WRONG_NUMBER = "Wrong number (nobody there knows the debtor)"


def forward(apps: Any, schema_editor: Any) -> None:
    Disposition = apps.get_model("surveys", "Disposition")
    if not Disposition.objects.exists():
        return  # an empty table: the shipped data comes with the first use (surveys.seed)
    Disposition.objects.filter(code="wrong_number", label=OLD_WRONG_NUMBER).update(
        label=NEW_WRONG_NUMBER
    )
    if not Disposition.objects.filter(code="not_available").exists():
        taken = set(Disposition.objects.values_list("shortcut", flat=True))
        wrong = Disposition.objects.filter(code="wrong_number").first()
        order = wrong.order if wrong is not None else Disposition.objects.count()
        Disposition.objects.filter(order__gte=order).update(order=F("order") + 1)
        Disposition.objects.create(
            code="not_available",
            label="Someone else answered: the debtor is not there now",
            aapor_code="2.21",
            aapor_class="NC",
            retry_after=dt.timedelta(minutes=180),
            shortcut="o" if "o" not in taken else "",
            order=order,
        )


def backward(apps: Any, schema_editor: Any) -> None:
    Disposition = apps.get_model("surveys", "Disposition")
    Disposition.objects.filter(code="wrong_number", label=NEW_WRONG_NUMBER).update(
        label=OLD_WRONG_NUMBER
    )


class Migration(migrations.Migration):
    dependencies = [("surveys", "0006_kinder_default_wording")]

    operations = [migrations.RunPython(forward, backward)]
