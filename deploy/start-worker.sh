#!/usr/bin/env bash
# Celery worker for the `finops` app.
#
# Usage: start-worker.sh [QUEUES [CONCURRENCY [extra `celery worker` options...]]]
#   QUEUES       comma list of queues; else $TOKENCAST_WORKER_QUEUES; else ingest,default,forecasting
#   CONCURRENCY  worker processes;     else $TOKENCAST_WORKER_CONCURRENCY; else 2
#   log level:   $TOKENCAST_WORKER_LOGLEVEL, else INFO
#
# Examples (as used by deploy/docker-compose.yml):
#   start-worker.sh ingest,default 2
#   start-worker.sh forecasting 2 --max-tasks-per-child 50
#
# The variables are prefixed TOKENCAST_ on purpose: the celery CLI itself reads CELERY_WORKER_*
# variables as option values, and these must not collide with them.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ "${SECRET_KEY:-}" == "change-me" ]]; then
    echo "$(basename "$0"): SECRET_KEY is still the placeholder from production.env.example; set a real one." >&2
    exit 1
fi

queues="${1:-${TOKENCAST_WORKER_QUEUES:-ingest,default,forecasting}}"
concurrency="${2:-${TOKENCAST_WORKER_CONCURRENCY:-2}}"
shift $(( $# < 2 ? $# : 2 ))

exec celery -A finops worker \
    -Q "$queues" \
    --concurrency "$concurrency" \
    --loglevel "${TOKENCAST_WORKER_LOGLEVEL:-INFO}" \
    "$@"
