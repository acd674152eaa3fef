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


# A production start: DEBUG off, a real secret key, a host name.
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "Q2x9-Zp7_rT5vN3mB8cL1wE6yU4iO0aS",
    "ALLOWED_HOSTS": "nps.example.com",
}


def test_check_deploy_is_clean_in_production_mode() -> None:
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            **PRODUCTION,
            "PRIVACY_CONTROLLER": "Agenzia Esempio S.r.l.",
            "PRIVACY_CONTACT": "privacy@agenzia.example",
        },
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_check_deploy_warns_while_the_privacy_notice_names_nobody() -> None:
    result = run_manage(
        "check",
        "--deploy",
        env=PRODUCTION,
    )
    assert "surveys.W001" in result.stdout + result.stderr
    assert "PRIVACY_CONTROLLER and PRIVACY_CONTACT not set" in result.stdout + result.stderr


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


def show(*names: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "from django.conf import settings as s; " + "; ".join(
        f"print(repr(s.{name}))" for name in names
    )
    return run_manage("shell", "--no-imports", "-c", code, env={"DEBUG": "1", **env})


def test_alerts_reach_the_admins_named_in_the_environment() -> None:
    result = show(
        "ADMINS",
        "SERVER_EMAIL",
        env={
            "ADMINS": "Ada Rossi <ada@example.com>, ops@example.com",
            "DEFAULT_FROM_EMAIL": "nps@agency.example",
        },
    )
    assert result.returncode == 0, result.stderr
    admins, server_email = result.stdout.splitlines()
    assert admins == "[('Ada Rossi', 'ada@example.com'), ('ops@example.com', 'ops@example.com')]"
    assert server_email == "'nps@agency.example'"


def test_a_malformed_admin_address_is_refused() -> None:
    result = show("ADMINS", env={"ADMINS": "Ada Rossi"})
    assert result.returncode != 0
    assert "ADMINS: 'Ada Rossi' is not an e-mail address" in result.stderr


def test_an_smtp_server_is_set_by_one_url() -> None:
    result = show(
        "EMAIL_BACKEND",
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_HOST_USER",
        "EMAIL_USE_TLS",
        env={"EMAIL_URL": "smtp+tls://mailer:s3cret@smtp.example.com:587"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "'django.core.mail.backends.smtp.EmailBackend'",
        "'smtp.example.com'",
        "587",
        "'mailer'",
        "True",
    ]
