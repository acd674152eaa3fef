"""Settings come from the environment, and production refuses what would be unsafe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for the session; a deployment never would.
    dropped = {"DJANGO_SETTINGS_MODULE", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    clean.pop("SECRET_KEY", None)
    clean.update({"DJANGO_SETTINGS_MODULE": "config.settings", "ENV_FILE": "/nonexistent", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_real_secret_key() -> None:
    result = run_manage("check", env={"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a random value" in result.stderr


def test_production_refuses_a_short_secret_key() -> None:
    result = run_manage("check", env={"DEBUG": "0", "SECRET_KEY": "too-short"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_check_deploy_is_clean_in_production_mode() -> None:
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DEBUG": "0",
            "SECRET_KEY": "k" * 20 + "Q2x9-Zp7_rT5vN3mB8cL1wE6yU4iO0aS",
            "ALLOWED_HOSTS": "nps.example.com",
        },
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_a_bad_sms_backend_is_refused_with_the_allowed_values() -> None:
    result = run_manage("check", env={"DEBUG": "1", "SMS_BACKEND": "carrier-pigeon"})
    assert result.returncode != 0
    assert "SMS_BACKEND must be 'outbox' or 'twilio'" in result.stderr


def test_twilio_backend_needs_its_credentials() -> None:
    result = run_manage("check", env={"DEBUG": "1", "SMS_BACKEND": "twilio"})
    assert result.returncode != 0
    assert "TWILIO_ACCOUNT_SID" in result.stderr


def test_the_embedded_defaults_run_without_any_service() -> None:
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.SMS_BACKEND)",
        env={"DEBUG": "1", "DATABASE_URL": "", "CELERY_BROKER_URL": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True", "outbox"]
