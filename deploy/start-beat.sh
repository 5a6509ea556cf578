#!/usr/bin/env bash
# Celery beat (periodic-task scheduler) for the `finops` app. Run exactly ONE beat per deployment.
#
# Environment (optional):
#   TOKENCAST_BEAT_SCHEDULE  schedule state file (default /var/lib/tokencast/celerybeat-schedule;
#                            its directory must be writable)
#   TOKENCAST_BEAT_LOGLEVEL  log level (default INFO)
# Any arguments are passed on to `celery beat`.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ "${SECRET_KEY:-}" == "change-me" ]]; then
    echo "$(basename "$0"): SECRET_KEY is still the placeholder from production.env.example; set a real one." >&2
    exit 1
fi

exec celery -A finops beat \
    --loglevel "${TOKENCAST_BEAT_LOGLEVEL:-INFO}" \
    --schedule "${TOKENCAST_BEAT_SCHEDULE:-/var/lib/tokencast/celerybeat-schedule}" \
    "$@"
