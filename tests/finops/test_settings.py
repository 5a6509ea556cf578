"""Settings: the embedded default, and a production start without SECRET_KEY failing at boot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLEAN_ENV = {
    key: value
    for key, value in os.environ.items()
    if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL", "SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}
}


def run_check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env={**CLEAN_ENV, "TOKENCAST_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_start_without_secret_key_fails_with_a_clear_message(tmp_path) -> None:
    result = run_check(tmp_path, DEBUG="false")

    assert result.returncode != 0
    assert "SECRET_KEY is not set. A production start (DEBUG=false) needs SECRET_KEY" in result.stderr


def test_production_start_with_secret_key_passes_the_checks(tmp_path) -> None:
    result = run_check(tmp_path, DEBUG="false", SECRET_KEY="x" * 50, ALLOWED_HOSTS="example.com")

    assert result.returncode == 0, result.stderr


def test_embedded_default_uses_sqlite_and_eager_celery(tmp_path) -> None:
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'finops.settings.base'); django.setup();"
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.EMAIL_BACKEND)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**CLEAN_ENV, "TOKENCAST_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "True",
        "django.core.mail.backends.filebased.EmailBackend",
    ]
