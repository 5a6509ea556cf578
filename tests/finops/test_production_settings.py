"""Production starts (DEBUG off): boot fails naming every missing required variable; with them set it boots.

Each case boots Django in a fresh process with a controlled environment, as a production process starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BOOT = "import django; django.setup()"
REQUIRED = ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL")
# Variables of this test process that would steer the settings of the booted one.
STEERING = {*REQUIRED, "DEBUG", "CELERY_BROKER_URL", "EMAIL_URL", "LOG_FORMAT", "LOG_LEVEL", "CACHE_URL"}


def boot(tmp_path: Path, code: str = BOOT, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in STEERING}
    environment.update(DJANGO_SETTINGS_MODULE="finops.settings.base", TOKENCAST_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=environment, capture_output=True, text=True, timeout=120
    )


def production(tmp_path: Path, **env: str) -> dict[str, str]:
    """Every required variable set, for a production start; ``env`` overrides."""
    return {
        "DEBUG": "false",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "tokencast.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        **env,
    }


def test_a_production_start_without_any_required_variable_names_each_and_how_to_set_it(tmp_path) -> None:
    result = boot(tmp_path, DEBUG="false")

    assert result.returncode != 0
    assert (
        "ImproperlyConfigured: A production start (DEBUG=false) needs SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL "
        "in the environment:\n"
        "  SECRET_KEY: generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'\n"
        "  ALLOWED_HOSTS: the host names the site is served under, comma-separated, e.g. tokencast.example.com\n"
        "  DATABASE_URL: the PostgreSQL database, e.g. postgres://tokencast:PASSWORD@db.example.com:5432/tokencast\n"
        "See .env.example and deploy/production.env.example"
    ) in result.stderr


def test_a_production_start_names_only_the_variables_missing(tmp_path) -> None:
    environment = production(tmp_path, ALLOWED_HOSTS="  ")  # blank counts as missing
    del environment["DATABASE_URL"]

    result = boot(tmp_path, **environment)

    assert result.returncode != 0
    assert "needs ALLOWED_HOSTS, DATABASE_URL in the environment:\n" in result.stderr
    assert "  SECRET_KEY:" not in result.stderr


def test_a_production_start_with_every_required_variable_boots_and_passes_the_checks(tmp_path) -> None:
    code = f"{BOOT}; from django.core.management import call_command; call_command('check')"

    result = boot(tmp_path, code, **production(tmp_path))

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_development_start_needs_none_of_them(tmp_path) -> None:
    result = boot(tmp_path, f"{BOOT}; from django.conf import settings; print(settings.DEBUG, settings.ALLOWED_HOSTS)")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True ['127.0.0.1', 'localhost', 'testserver']"


def test_log_format_json_writes_one_json_object_per_line(tmp_path) -> None:
    code = f"{BOOT}; import logging; logging.getLogger('tokencast.probe').warning('hello %s', 'ops')"

    result = boot(tmp_path, code, LOG_FORMAT="json")

    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert {key: line[key] for key in ("level", "logger", "message", "request_id", "task_id", "task_name")} == {
        "level": "WARNING",
        "logger": "tokencast.probe",
        "message": "hello ops",
        "request_id": None,
        "task_id": None,
        "task_name": None,
    }
    assert line["time"].endswith("+00:00")


def test_an_unknown_log_format_fails_at_boot(tmp_path) -> None:
    result = boot(tmp_path, LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT must be text or json, not 'xml'" in result.stderr
