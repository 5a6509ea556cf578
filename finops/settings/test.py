"""Test settings: the base settings plus speed-ups only (fast password hashing)."""

from finops.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Unit tests run tasks in-process; tests marked ``worker`` switch this off and use a real worker.
CELERY_TASK_ALWAYS_EAGER = True

# Throttle counts live in the process's memory; tests/api clears them between tests.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tokencast-tests"}}
