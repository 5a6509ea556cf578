"""The Celery application; sees every app's tasks. Queues: ingest, forecasting, default."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finops.settings.base")

app = Celery("tokencast")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
