"""The Celery application; sees every app's tasks. Queues: ingest, forecasting, default.

Workers and beat log through the settings' ``LOGGING`` (text or JSON, with request and task ids) rather than
Celery's own format, and tasks carry the id of the request that enqueued them (``finops.request_id``).
"""

import logging
import os
from typing import Any

from celery import Celery, signals

from finops.request_id import connect_task_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings.base")

app = Celery("tokencast")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
connect_task_signals()


@signals.setup_logging.connect
def _log_through_django_settings(loglevel: int | str | None = None, **_: Any) -> None:
    """One logging setup for every process: ``settings.LOGGING``; the command line's ``--loglevel`` sets the root
    level of workers and beat (as Celery's own setup, which this replaces, would)."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
