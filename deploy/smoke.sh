#!/usr/bin/env bash
# Smoke test of a production deployment, without Docker: starts the processes docker-compose.yml runs, the same way
# (through deploy/start-*.sh, DEBUG off, PostgreSQL, Redis, SMTP), then uses the service as a user would over HTTP.
#
#   deploy/smoke.sh            (run by `make test`; needs the Debian packages postgresql and redis-server)
#
# Steps: PostgreSQL and Redis on loopback -> migrate, collectstatic -> gunicorn, the ingest worker, two forecasting
# workers (different node names) and beat -> /healthz and /readyz -> an organization, its admin and an exchange rate
# by the management commands -> one real export of each provider uploaded through the API -> a budget -> a forecast run, which both
# forecasting workers must have taken chunks of -> usage, the latest forecast, budget status and recommendations
# read -> the monthly forecast e-mail sent into a local SMTP server (aiosmtpd) and found there -> everything stopped.
# Prints each step; exits non-zero at the first failure, with the tail of every process's log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[[ "$PYTHON" == /* ]] || PYTHON="$PWD/$PYTHON"  # the script changes directory (make passes .venv/bin/python)
FIXTURES="$ROOT/tests/fixtures"
# One real export of each provider (provenance: tests/fixtures/PROVENANCE.md).
EXPORTS=(
    "$FIXTURES/openai/completions_usage_2026-08-01_2026-08-31.csv"
    "$FIXTURES/anthropic/claude_api_tokens_2026_03.csv"
    "$FIXTURES/aws/cur2_bedrock_daily.csv"
    "$FIXTURES/gcp/bigquery_export_dotted.csv"
    "$FIXTURES/azure/ea_2024-08-01_openai.csv"
    "$FIXTURES/focus/azure_focus_1.2-preview_openai.csv"
)
OWNER="finance@example.com"

WORK="$(mktemp -d /tmp/tokencast-smoke.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
NAMES=()
STARTED=$SECONDS

step() { printf '\n[%4ds] == %s\n' "$((SECONDS - STARTED))" "$*"; }
fail() {
    echo "SMOKE TEST FAILED: $*" >&2
    for log in "$WORK"/*.log; do
        [[ -f "$log" ]] || continue
        echo "---- last lines of $(basename "$log") ----" >&2
        tail -n 25 "$log" >&2
    done
    exit 1
}
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for_port() {  # PORT WHAT
    for _ in $(seq 1 150); do
        if "$PYTHON" -c "import socket,sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', $1)))" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    fail "$2 did not listen on 127.0.0.1:$1 within 30s"
}
start() {  # NAME COMMAND... : a background process, its output in $WORK/NAME.log
    local name="$1"
    shift
    "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
    NAMES+=("$name")
    echo "  started $name (pid $!): $*"
}

AS_POSTGRES=()
PG_BIN="$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
if [[ $EUID -eq 0 ]]; then
    AS_POSTGRES=(runuser -u postgres --)  # initdb refuses to run as root
fi

cleanup() {
    local status=$?
    step "shutting down"
    for index in "${!PIDS[@]}"; do
        kill -TERM "${PIDS[$index]}" 2>/dev/null || true
    done
    for index in "${!PIDS[@]}"; do
        for _ in $(seq 1 100); do
            kill -0 "${PIDS[$index]}" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "${PIDS[$index]}" 2>/dev/null; then
            kill -KILL "${PIDS[$index]}" 2>/dev/null || true
            echo "  ${NAMES[$index]}: killed after 10s"
        else
            echo "  ${NAMES[$index]}: stopped"
        fi
    done
    if [[ -f "$WORK/pgdata/postmaster.pid" ]]; then
        cd "$WORK"  # a directory the postgres user may enter
        "${AS_POSTGRES[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pgdata" -m fast -w stop >/dev/null 2>&1 || true
        echo "  postgresql: stopped"
    fi
    cd /
    rm -rf "$WORK"
    if [[ $status -eq 0 ]]; then
        printf '\nSMOKE TEST PASSED in %ds\n' "$((SECONDS - STARTED))"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

[[ -x "$PYTHON" ]] || fail "no Python at $PYTHON (run make venv, or set PYTHON)"
[[ -n "$PG_BIN" ]] || fail "PostgreSQL is not installed (apt-get install postgresql; make system-packages does it)"
command -v redis-server >/dev/null || fail "redis-server is not installed (apt-get install redis-server)"
export PATH="$(dirname "$PYTHON"):$PATH"  # gunicorn, celery and python of the project's environment
cd "$ROOT"

step "PostgreSQL, Redis and an SMTP server on loopback"
cd "$WORK"  # the postgres user runs initdb and pg_ctl here: it may not enter the checkout
PG_PORT="$(free_port)"
mkdir -p "$WORK/pgdata" "$WORK/pgsock"
[[ $EUID -eq 0 ]] && chown postgres "$WORK/pgdata" "$WORK/pgsock"
"${AS_POSTGRES[@]}" "$PG_BIN/initdb" -D "$WORK/pgdata" -U tokencast --auth=trust -E UTF8 --no-sync >/dev/null \
    || fail "initdb failed"
"${AS_POSTGRES[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pgdata" -l "$WORK/pgdata/server.log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $WORK/pgsock -c fsync=off -c synchronous_commit=off" start \
    >/dev/null || fail "PostgreSQL did not start: $(tail -n 5 "$WORK/pgdata/server.log" 2>/dev/null)"
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U tokencast tokencast || fail "createdb failed"
echo "  postgresql on 127.0.0.1:$PG_PORT"
cd "$ROOT"
REDIS_PORT="$(free_port)"
start redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$WORK"
wait_for_port "$REDIS_PORT" redis
SMTP_PORT="$(free_port)"
start smtp "$PYTHON" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$WORK/maildir"
wait_for_port "$SMTP_PORT" "the SMTP server"

# The environment a deployment gives every process (deploy/production.env.example), pointed at the loopback servers.
WEB_PORT="$(free_port)"
BASE_URL="http://127.0.0.1:$WEB_PORT"
export DEBUG=false
SECRET_KEY="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))')"
export SECRET_KEY
export ALLOWED_HOSTS=127.0.0.1,localhost
export DATABASE_URL="postgres://tokencast@127.0.0.1:$PG_PORT/tokencast"
export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CACHE_URL="redis://127.0.0.1:$REDIS_PORT/1"
export EMAIL_URL="smtp://127.0.0.1:$SMTP_PORT"
export DEFAULT_FROM_EMAIL="tokencast@example.com"
export TOKENCAST_BASE_URL="$BASE_URL"
export TOKENCAST_VAR_DIR="$WORK/var"
export MEDIA_ROOT="$WORK/var/media"
export TOKENCAST_BEAT_SCHEDULE="$WORK/var/celerybeat-schedule"
export FORECAST_REFRESH_AFTER_INGEST=false  # the forecast below is started explicitly
export SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false  # plain HTTP on loopback
export LOG_LEVEL=INFO
mkdir -p "$TOKENCAST_VAR_DIR"

step "migrate (the compose file's one-shot migrate service) and collectstatic (the image build)"
python manage.py migrate --noinput >"$WORK/migrate.log" 2>&1 || fail "migrate failed: $(tail -n 20 "$WORK/migrate.log")"
echo "  $(grep -c '  Applying ' "$WORK/migrate.log") migrations applied"
python manage.py collectstatic --noinput >"$WORK/collectstatic.log" 2>&1 || fail "collectstatic failed"
tail -n 1 "$WORK/collectstatic.log" | sed 's/^/  /'

step "gunicorn, the ingest worker, two forecasting workers and beat (deploy/start-*.sh, as docker-compose.yml)"
WEB_BIND="127.0.0.1:$WEB_PORT" start web deploy/start-web.sh
start worker-ingest deploy/start-worker.sh ingest,default 2 -n ingest@%h
start worker-forecasting-1 deploy/start-worker.sh forecasting 2 --max-tasks-per-child 50 -n forecasting-1@%h
start worker-forecasting-2 deploy/start-worker.sh forecasting 2 --max-tasks-per-child 50 -n forecasting-2@%h
start beat deploy/start-beat.sh
wait_for_port "$WEB_PORT" gunicorn
HOST="$("$PYTHON" -c 'import socket; print(socket.gethostname())')"  # what celery's %h expands to
for node in ingest forecasting-1 forecasting-2; do
    for _ in $(seq 1 60); do
        celery -A finops inspect ping -d "$node@$HOST" --timeout 2 >/dev/null 2>&1 && break
        sleep 1
    done
    celery -A finops inspect ping -d "$node@$HOST" --timeout 5 >/dev/null 2>&1 \
        || fail "worker $node@$HOST did not answer a ping within 60s"
    echo "  $node@$HOST answers"
done

step "health: /healthz and /readyz"
python deploy/smoke_steps.py "$BASE_URL" - probes || fail "the probes did not answer 200"

step "an organization and its admin, by the management commands"
python manage.py org_create smoke --name "Smoke Test Inc." | sed 's/^/  org_create: /'
TOKEN="$(TOKENCAST_PASSWORD="$SECRET_KEY" python manage.py user_create finance --org smoke --role admin \
    --email "$OWNER" --token | tail -n 1)"
[[ ${#TOKEN} -ge 20 ]] || fail "user_create printed no API token"
echo "  user finance (admin of smoke, $OWNER) with an API token"
# One export is billed in EUR; totals are in the organization's USD. A fixed test rate, not a market rate.
printf 'date,from_currency,to_currency,rate,source\n2024-01-01,EUR,USD,1.08,smoke test rate\n' >"$WORK/fx.csv"
python manage.py fx_import "$WORK/fx.csv" | sed 's/^/  fx_import: /'

step "upload one real export of each provider through the API; the ingest worker lands them"
python deploy/smoke_steps.py "$BASE_URL" "$TOKEN" upload "${EXPORTS[@]}" || fail "an upload did not land"

step "a monthly budget owned by $OWNER"
python deploy/smoke_steps.py "$BASE_URL" "$TOKEN" budget "$OWNER" || fail "the budget was refused"

step "a forecast run, through the forecasting workers"
python deploy/smoke_steps.py "$BASE_URL" "$TOKEN" forecast || fail "the forecast did not succeed"
for worker in worker-forecasting-1 worker-forecasting-2; do
    chunks="$(grep -c 'execute_forecast_chunk\[.*\] succeeded' "$WORK/$worker.log" || true)"
    [[ "$chunks" -ge 1 ]] || fail "$worker took no chunk of the forecast run"
    echo "  $worker: $chunks chunk(s)"
done

step "read usage, the latest forecast, budget status and recommendations"
sleep 2  # recommendations are regenerated by a task queued when the run succeeded
python deploy/smoke_steps.py "$BASE_URL" "$TOKEN" read || fail "a read failed"

step "the monthly forecast e-mail, into the local SMTP server"
python manage.py send_forecast_emails --org smoke | sed 's/^/  /'
"$PYTHON" - "$WORK/maildir" "$OWNER" <<'PY' || fail "the forecast e-mail did not arrive"
import mailbox, sys
messages = [m for m in mailbox.Maildir(sys.argv[1], create=False) if sys.argv[2] in (m["To"] or "")]
if not messages:
    sys.exit(f"no message to {sys.argv[2]} in the SMTP server's mailbox")
message = messages[0]
parts = [part.get_content_type() for part in message.walk()]
for wanted in ("text/plain", "text/html", "image/png", "text/csv"):
    if wanted not in parts:
        sys.exit(f"the e-mail has no {wanted} part: {parts}")
print(f"  arrived: {message['Subject']!r} to {message['To']}; parts {', '.join(parts)}")
PY

step "beat is still running"
beat_pid="${PIDS[${#PIDS[@]}-1]}"
kill -0 "$beat_pid" 2>/dev/null || fail "beat exited"
grep -q "beat: Starting" "$WORK/beat.log" || fail "beat did not start its scheduler"
echo "  beat (pid $beat_pid) running"
