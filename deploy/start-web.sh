#!/usr/bin/env bash
# Web process: gunicorn serving finops.wsgi:application (static files via whitenoise).
#
# Environment (all optional):
#   RUN_MIGRATIONS=1   run `manage.py migrate --noinput` before starting (single-container setups;
#                      the compose file runs a separate one-shot `migrate` service instead)
#   WEB_BIND           listen address            (default 0.0.0.0:8000)
#   WEB_WORKERS        gunicorn worker processes (default 3)
#   WEB_TIMEOUT        gunicorn worker timeout, s (default 120)
# Any arguments are passed on to gunicorn.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ "${SECRET_KEY:-}" == "change-me" ]]; then
    echo "$(basename "$0"): SECRET_KEY is still the placeholder from production.env.example; set a real one." >&2
    exit 1
fi

if [[ "${RUN_MIGRATIONS:-0}" == "1" ]]; then
    python manage.py migrate --noinput
fi

exec gunicorn finops.wsgi:application \
    --bind "${WEB_BIND:-0.0.0.0:8000}" \
    --workers "${WEB_WORKERS:-3}" \
    --timeout "${WEB_TIMEOUT:-120}" \
    --access-logfile - \
    "$@"
