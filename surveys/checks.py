"""Deployment checks (`manage.py check --deploy`) for what the debtor's pages promise."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def privacy_notice_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    missing = [
        name for name in ("PRIVACY_CONTROLLER", "PRIVACY_CONTACT") if not getattr(settings, name)
    ]
    if not missing:
        return []
    return [
        Warning(
            f"{' and '.join(missing)} not set: the debtor's privacy notice names no data "
            "controller or no contact for their rights.",
            hint="Set PRIVACY_CONTROLLER (the agency's legal name) and PRIVACY_CONTACT "
            "(an e-mail or postal address).",
            id="surveys.W001",
        )
    ]
