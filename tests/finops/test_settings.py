"""Settings: the embedded default (production starts: test_production_settings.py)."""

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
