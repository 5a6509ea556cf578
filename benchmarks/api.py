"""API read benchmark: the endpoints people poll, served by gunicorn to 20 concurrent clients, at 10 M ledger lines.

Run from the repository root (it needs PostgreSQL's server binaries, like ``make test``)::

    .venv/bin/python benchmarks/api.py                  # 10,000,000 + 1,000,000 lines, 20 s per endpoint
    .venv/bin/python benchmarks/api.py --quick          # 100,000 + 10,000 lines, 3 s each (tests/test_benchmarks.py)
    .venv/bin/python benchmarks/api.py --lines 2000000 --seconds 10 --workers 4 --threads 1 --json

What it does:

1. starts a throwaway PostgreSQL (``tests.harness.start_postgres`` through ``benchmarks._harness``), creates the
   database and migrates it (which seeds the price catalog); Celery runs eagerly in this process;
2. loads the ledger with SQL (``INSERT ... SELECT`` over ``generate_series``, one statement per month), as the
   ingest would have written it: organization ``bench`` gets ``--lines`` ledger lines over the 24 months up to
   yesterday, from 50 teams using 30 models of 6 providers (each team a handful of models; each team x model x
   provider several streams, a project and API key each, with one line a day: input, output and cached-input
   tokens side by side, cache writes for the Anthropic routes), volumes that grow, dip at weekends and are noisy,
   some streams adopted or dropped half-way; costs are Decimal list-price estimates from the shipped price book
   (Azure's billed in EUR, so totals are converted); lines belong to one upload per provider and month, and
   teams have the allocation rules that put the projects there. ``bench-small`` gets ``--second-lines`` lines
   (10 teams, reporting in EUR), so every read has another tenant's rows to skip;
3. builds the daily rollup of both with ``ingest.rollup.usage_rollup_refresh`` (timed: what re-allocating a whole
   organization costs on top of its ``UPDATE``) and checks its tokens and records against the ledger lines;
4. forecasts ``bench`` through the real service (``forecast_run_create``, run in this process): its plan reads
   the daily leaves from the ledger and fits one series per workload (provider x team), about 150 here, so the
   stored run has the size a 50-team organization's run has (levels, 250 team x model keys, daily points). Not a
   hand-made run: the latest-forecast endpoint serves what the service stores, and its size is what costs;
   the fit takes a few minutes and is reported, but it is not what this benchmark measures;
5. creates budgets (organization, teams, a provider, a model) with ``planning.services.budget_save``,
   recommendations with ``planning.recommendations.recommendations_generate`` and a viewer with an API token
   (``finops.services.user_upsert`` / ``user_api_token``);
6. in this process, answers "usage by month and team" from the raw ``LedgerEntry`` view (what
   ``usage_summary`` read before the rollup) and from the rollup (uncached, then cached), checks they agree
   on tokens and records, and prints the ratio;
7. starts gunicorn (``finops.wsgi``; by default 2 gthread workers of 8 threads, each keeping its database
   connection: ``--workers``, ``--threads``, ``--conn-max-age``) on loopback with the environment a deployment
   gives it (``DATABASE_URL``, ``DEBUG=false``, the default per-process cache) and drives each endpoint in
   turn: one request alone first (**cold**: the first time the service is asked, nothing cached by it; the
   database's and the operating system's caches as the load left them), then ``--clients`` concurrent clients
   (keep-alive connections driven by one asyncio loop in this process, token auth, accepting gzip as browsers and
   HTTP libraries do; the bodies are read, not decompressed) for ``--seconds`` (**warm**:
   every worker's first request of the endpoint is among them). A trivial endpoint (the caller's organizations) is
   the baseline, also driven by the previous load generator (threads with ``http.client``, whose latencies include
   each thread's wait for the GIL: ``baseline_threads_client``; ``--client threads`` drives every endpoint so);
8. prints, per endpoint, the cold time, p50, p95, p99, max, requests per second, errors, p95 / baseline p95 and
   the machine's load average when the phase ended and the share of its CPU time the hypervisor gave other guests
   during the phase (``/proc/stat`` steal; other processes and other guests slow every figure);
   stops gunicorn and PostgreSQL and removes its temporary directory whatever happens (error, Ctrl-C, SIGTERM).

The last line is ``worst warm p95: X ms (ENDPOINT; target <= 150 ms)``, or with ``--json`` one JSON object
``{endpoint: {"p50_ms", "p95_ms", "rps", "cold_ms"}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
# Run as a script, Python puts benchmarks/ first on sys.path, where benchmarks/ingest.py would shadow the
# ``ingest`` Django app: put the repository root there instead.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks._harness import start_database, stop_database  # noqa: E402

DEFAULT_LINES = 10_000_000
DEFAULT_SECOND_LINES = 1_000_000
QUICK_LINES = 100_000  # --quick: a smoke run of about a minute; its timings say little
QUICK_SECOND_LINES = 10_000
DEFAULT_SECONDS = 20.0
QUICK_SECONDS = 3.0
DEFAULT_CLIENTS = 20
# What measured best on 2 cores (2 x 8 ahead of 3 x 8, 4 x 8, 4 x 4 gthread and of 4 or 8 sync workers), with each
# thread keeping its database connection. deploy/start-web.sh runs 3 sync workers without persistent connections:
# --workers 3 --threads 1 --conn-max-age 0 measures that. A gthread worker accepts whatever connections reach it
# first, so 20 keep-alive connections opened at once could split 17/3 over two workers, leaving a core idle: 14 phases
# of 3 s on the trivial endpoint measured 255-566 req/s and p95 63-149 ms so, 374-574 req/s and 52-88 ms with each
# worker holding at most 10 connections (--worker-connections, by default the clients divided over the workers).
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 8
DEFAULT_CONN_MAX_AGE = 600
DAYS = 730  # 24 months
TEAMS = 50
SECOND_TEAMS = 10
QUICK_TEAMS = 2  # --quick: 2 teams and 1, so that the forecast (one series per provider x team) stays short
QUICK_SECOND_TEAMS = 1
SEED = 13
TARGET_P95_MS = 150.0
SERVER_START_SECONDS = 60
BIG, SECOND = "bench", "bench-small"
EUR_PER_USD = Decimal("0.92")

# (provider, model as exported, popularity); the normalized id comes from the ingest's own normalization, so a
# model bought direct, through Bedrock or through Azure is one model.
MODELS: tuple[tuple[str, str, float], ...] = (
    ("openai", "gpt-4o-mini-2024-07-18", 10.0),
    ("openai", "gpt-4o-2024-08-06", 6.0),
    ("openai", "gpt-4.1-2025-04-14", 6.0),
    ("openai", "gpt-4.1-mini-2025-04-14", 8.0),
    ("openai", "gpt-4.1-nano-2025-04-14", 3.0),
    ("openai", "o3-2025-04-16", 2.0),
    ("openai", "o4-mini-2025-04-16", 4.0),
    ("openai", "o3-mini-2025-01-31", 1.5),
    ("openai", "gpt-5-2025-08-07", 3.0),
    ("openai", "gpt-5-mini-2025-08-07", 4.0),
    ("anthropic", "claude-3-5-haiku-20241022", 4.0),
    ("anthropic", "claude-3-5-sonnet-20241022", 3.0),
    ("anthropic", "claude-3-7-sonnet-20250219", 3.0),
    ("anthropic", "claude-sonnet-4-20250514", 5.0),
    ("anthropic", "claude-opus-4-20250514", 1.0),
    ("anthropic", "claude-sonnet-4-5-20250929", 4.0),
    ("aws_bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0", 2.0),
    ("aws_bedrock", "amazon.nova-pro-v1:0", 1.5),
    ("aws_bedrock", "amazon.nova-lite-v1:0", 1.5),
    ("aws_bedrock", "meta.llama3-1-70b-instruct-v1:0", 1.0),
    ("gcp_vertex", "gemini-2.0-flash-001", 3.0),
    ("gcp_vertex", "gemini-2.5-pro", 2.0),
    ("gcp_vertex", "gemini-2.5-flash", 3.0),
    ("gcp_vertex", "gemini-1.5-pro-002", 1.0),
    ("gcp_gemini_api", "gemini-2.5-flash-lite", 2.0),
    ("gcp_gemini_api", "gemini-2.0-flash-lite", 1.0),
    ("azure_openai", "gpt-4o", 3.0),
    ("azure_openai", "gpt-4o-mini", 3.0),
    ("azure_openai", "gpt-4.1", 2.0),
    ("azure_openai", "o4-mini", 1.0),
)
TEAM_AREAS = ("Search", "Support", "Analytics", "Platform", "Growth", "Research", "Billing", "Risk", "Docs", "Sales")
# List prices the price book may not have (USD per million tokens): input, output, cached input, cache write.
FALLBACK_PRICES = (Decimal("1"), Decimal("4"), Decimal("0.25"), Decimal("1.25"))
STREAM_COLUMNS = (
    "stream_id",
    "organization_id",
    "team_id",
    "provider",
    "model",
    "model_raw",
    "currency",
    "basis",
    "project",
    "api_key",
    "first_day",
    "last_day",
    "base_tokens",
    "growth",
    "weekend_factor",
    "output_ratio",
    "cached_share",
    "cache_write_share",
    "tokens_per_request",
    "input_price",
    "output_price",
    "cached_price",
    "cache_write_price",
)


# ---------------------------------------------------------------------------------------------
# The ledger
# ---------------------------------------------------------------------------------------------


@dataclass
class Stream:
    """One project's API key calling one model through one provider for one team: one ledger line a day."""

    values: dict[str, Any]


def _prices(organization: Any, provider: str, model: str, model_raw: str, on: date) -> tuple[Decimal, ...]:
    """List prices from the organization's price book on ``on``, in the order of ``FALLBACK_PRICES``."""
    from finops.selectors import price_book
    from ingest.ledger_writer import list_price

    book = price_book(organization=organization)
    found = []
    for token_type, fallback in zip(("input", "output", "cached_input", "cache_write"), FALLBACK_PRICES, strict=True):
        price = list_price(book, provider, (model, model_raw), token_type, on, "")
        found.append(price if price is not None else fallback)
    return tuple(found)


def plan_streams(
    organization: Any, teams: list[Any], lines: int, first_day: date, last_day: date, seed: int
) -> list[Stream]:
    """Streams whose days add up to exactly ``lines`` ledger lines (deterministic for a seed)."""
    from ingest.ledger_writer import model_for

    rng = random.Random(f"{seed}:{organization.slug}")
    weights = [weight for _, _, weight in MODELS]
    price_cache: dict[tuple[str, str], tuple[Decimal, ...]] = {}
    pairs: list[tuple[Any, str, str, str]] = []  # (team, provider, model, model_raw)
    for team in teams:
        used: list[tuple[str, str, float]] = []
        while len(used) < rng.randint(3, 7):
            choice = rng.choices(MODELS, weights)[0]
            if choice not in used:
                used.append(choice)
        for provider, model_raw, _ in used:
            pairs.append((team, provider, model_for({}, provider, model_raw), model_raw))
    streams: list[Stream] = []
    total = 0
    index = 0
    while total < lines:
        team, provider, model, model_raw = pairs[index % len(pairs)]
        key = (provider, model_raw)
        if key not in price_cache:
            price_cache[key] = _prices(organization, provider, model, model_raw, last_day)
        input_price, output_price, cached_price, cache_write_price = price_cache[key]
        start_offset = 0 if rng.random() < 0.75 else rng.randint(30, DAYS - 60)  # adopted later
        end_offset = DAYS - 1 if rng.random() < 0.9 else rng.randint(start_offset + 30, DAYS - 1)  # dropped
        first, last = first_day + timedelta(days=start_offset), first_day + timedelta(days=end_offset)
        days = (last - first).days + 1
        if total + days > lines:
            last = first + timedelta(days=lines - total - 1)
            days = lines - total
        azure = provider == "azure_openai"
        eur = Decimal(1) if not azure else EUR_PER_USD
        project_number = rng.randint(1, 3)
        streams.append(
            Stream(
                {
                    "stream_id": index + 1,
                    "organization_id": organization.pk,
                    "team_id": team.pk,
                    "provider": provider,
                    "model": model,
                    "model_raw": model_raw,
                    "currency": "EUR" if azure else "USD",
                    "basis": "billed" if azure else "estimated",
                    "project": f"proj-{team.slug}-{project_number}",
                    "api_key": f"key-{index:06d}",
                    "first_day": first,
                    "last_day": last,
                    "base_tokens": round(rng.lognormvariate(12.5, 1.3)),  # median ~270k tokens a day
                    "growth": rng.uniform(-0.0005, 0.0025),
                    "weekend_factor": round(rng.uniform(0.3, 0.95), 3),
                    "output_ratio": round(rng.uniform(0.1, 0.5), 3),
                    "cached_share": round(rng.uniform(0.0, 0.6), 3),
                    "cache_write_share": round(rng.uniform(0.005, 0.03), 4)
                    if provider in ("anthropic", "aws_bedrock") and "claude" in model
                    else 0,
                    "tokens_per_request": rng.choice((600, 1_200, 2_500, 4_000)),
                    "input_price": input_price * eur,
                    "output_price": output_price * eur,
                    "cached_price": cached_price * eur,
                    "cache_write_price": cache_write_price * eur,
                }
            )
        )
        total += days
        index += 1
    return streams


_STREAM_TABLE_SQL = """
CREATE UNLOGGED TABLE IF NOT EXISTS bench_streams (
    stream_id integer, organization_id bigint, team_id bigint, provider text, model text, model_raw text,
    currency text, basis text, project text, api_key text, first_day date, last_day date, base_tokens bigint,
    growth double precision, weekend_factor double precision, output_ratio double precision,
    cached_share double precision, cache_write_share double precision, tokens_per_request integer,
    input_price numeric, output_price numeric, cached_price numeric, cache_write_price numeric
);
CREATE UNLOGGED TABLE IF NOT EXISTS bench_uploads (
    organization_id bigint, provider text, month date, upload_id bigint
)
"""

# One month of the ledger: each stream's days in the month, a line per day. The volume subquery is kept from being
# flattened (OFFSET 0) so its random() is drawn once per line.
_LINES_SQL = """
INSERT INTO ingest_ledgerline (
    organization_id, upload_id, source_row, date, period_start, period_end, provider, model, model_raw, unit,
    currency, project, workspace, api_key, account, region, service_tier, tags, team_id, requests, requests_slot,
    input_quantity, input_cost, input_basis, output_quantity, output_cost, output_basis,
    cached_input_quantity, cached_input_cost, cached_input_basis, cache_write_quantity, cache_write_cost,
    cache_write_basis, other_quantity, other_cost, other_basis
)
SELECT s.organization_id, u.upload_id, s.stream_id * 1000 + (day.d - s.first_day), day.d,
    day.d::timestamp AT TIME ZONE 'UTC', (day.d + 1)::timestamp AT TIME ZONE 'UTC',
    s.provider, s.model, s.model_raw, 'tokens', s.currency, s.project, '', s.api_key, '', '', '', '{}'::jsonb,
    s.team_id, greatest(1, v.total / s.tokens_per_request), 0,
    v.input_all - v.cached - coalesce(v.cache_write, 0),
    round((v.input_all - v.cached - coalesce(v.cache_write, 0)) * s.input_price / 1000000, 10), s.basis,
    v.total - v.input_all, round((v.total - v.input_all) * s.output_price / 1000000, 10), s.basis,
    v.cached, round(v.cached * s.cached_price / 1000000, 10), s.basis,
    v.cache_write, round(v.cache_write * s.cache_write_price / 1000000, 10),
    CASE WHEN v.cache_write IS NULL THEN '' ELSE s.basis END,
    NULL, NULL, ''
FROM bench_streams s
CROSS JOIN LATERAL (
    SELECT generate_series(greatest(s.first_day, %(month_first)s::date), least(s.last_day, %(month_last)s::date),
        interval '1 day')::date AS d
) day
JOIN bench_uploads u
    ON u.organization_id = s.organization_id AND u.provider = s.provider AND u.month = %(month_first)s::date
CROSS JOIN LATERAL (
    SELECT t.total, (t.total / (1 + s.output_ratio))::bigint AS input_all,
        ((t.total / (1 + s.output_ratio)) * s.cached_share)::bigint AS cached,
        CASE WHEN s.cache_write_share > 0 THEN ((t.total / (1 + s.output_ratio)) * s.cache_write_share)::bigint END
            AS cache_write
    FROM (
        SELECT greatest(10, s.base_tokens * exp(s.growth * (day.d - s.first_day))
            * CASE WHEN extract(isodow FROM day.d) >= 6 THEN s.weekend_factor ELSE 1 END
            * (0.7 + 0.6 * random()))::bigint AS total
        OFFSET 0
    ) t
) v
WHERE s.organization_id = %(organization)s AND s.first_day <= %(month_last)s::date
    AND s.last_day >= %(month_first)s::date
"""


def _months(first_day: date, last_day: date) -> list[tuple[date, date]]:
    months = []
    start = first_day
    while start <= last_day:
        following = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        months.append((start, min(following - timedelta(days=1), last_day)))
        start = following
    return months


def import_fx_rates(first_day: date) -> None:
    """Weekly EUR -> USD rates over the ledger's days (``finops.services.fx_rates_import``)."""
    from finops.services import fx_rates_import

    rates = ["date,from_currency,to_currency,rate\n"]
    rates += [
        f"{first_day + timedelta(days=offset)},EUR,USD,{Decimal('1.08') + Decimal(offset % 50) / 1000}\n"
        for offset in range(0, DAYS, 7)
    ]
    fx_rates_import(lines=rates, filename="bench-fx.csv")


def create_organization(slug: str, team_count: int, reporting_currency: str) -> tuple[Any, list[Any]]:
    """A fresh organization with teams and the allocation rules that put each team's projects there."""
    from finops.models import AllocationRule, Organization
    from finops.services import organization_create, team_get_or_create

    organization, created = organization_create(slug=slug, holiday_country="US")
    if not created:
        raise RuntimeError(f"organization {slug!r} already exists; the benchmark needs a fresh one")
    Organization.objects.filter(pk=organization.pk).update(reporting_currency=reporting_currency)
    organization.refresh_from_db()
    teams = []
    for number in range(team_count):
        name = f"{TEAM_AREAS[number % len(TEAM_AREAS)]} {number // len(TEAM_AREAS) + 1}"
        team = team_get_or_create(organization=organization, name=name)
        teams.append(team)
        for project in (1, 2, 3):
            AllocationRule.objects.create(
                organization=organization,
                team=team,
                dimension=AllocationRule.Dimension.PROJECT,
                value=f"proj-{team.slug}-{project}",
                priority=10 + number,
            )
    return organization, teams


def load_ledger(organization: Any, streams: list[Stream], first_day: date, last_day: date) -> float:
    """Write the streams' lines, one ``INSERT ... SELECT`` per month; returns seconds."""
    from django.db import connection

    from ingest.models import Upload

    started = time.perf_counter()
    months = _months(first_day, last_day)
    keys = [
        (provider, month.replace(day=1))
        for provider in sorted({s.values["provider"] for s in streams})
        for month, _ in months
    ]
    uploads = Upload.objects.bulk_create(
        Upload(
            organization=organization,
            file=f"uploads/bench/{organization.slug}-{provider}-{month:%Y-%m}.csv",
            original_name=f"{provider}-{month:%Y-%m}.csv",
            sha256=f"{organization.pk:08d}{index:056d}",
            size_bytes=0,
            format=provider,
            status=Upload.Status.SUCCEEDED,
        )
        for index, (provider, month) in enumerate(keys)
    )
    with connection.cursor() as cursor:
        cursor.execute(_STREAM_TABLE_SQL)
        with cursor.cursor.copy(f"COPY bench_streams ({', '.join(STREAM_COLUMNS)}) FROM STDIN") as copy:
            for stream in streams:
                copy.write_row([stream.values[column] for column in STREAM_COLUMNS])
        with cursor.cursor.copy("COPY bench_uploads (organization_id, provider, month, upload_id) FROM STDIN") as copy:
            for (provider, month), upload in zip(keys, uploads, strict=True):
                copy.write_row([organization.pk, provider, month, upload.pk])
        for month_first, month_last in months:
            cursor.execute(
                _LINES_SQL,
                {
                    "organization": organization.pk,
                    "month_first": month_first.replace(day=1),
                    "month_last": month_last,
                },
            )
        cursor.execute("ANALYZE ingest_ledgerline")
    return time.perf_counter() - started


def ledger_and_rollup_totals(organization: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """(tokens, records) of the organization's ledger lines and of its rollup."""
    from django.db import connection
    from django.db.models import Sum

    from ingest.models import UsageDaily

    slots = ("input", "output", "cached_input", "cache_write")
    tokens = " + ".join(f"coalesce(sum({slot}_quantity) FILTER (WHERE unit = 'tokens'), 0)" for slot in slots)
    records = " + ".join(f"count({slot}_quantity)" for slot in (*slots, "other"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {tokens}, {records} FROM ingest_ledgerline WHERE organization_id = %s", [organization.pk]
        )
        ledger = cursor.fetchone()
    sums = UsageDaily.objects.filter(organization=organization).aggregate(tokens=Sum("tokens"), records=Sum("records"))
    return (int(ledger[0]), int(ledger[1])), (int(sums["tokens"] or 0), int(sums["records"] or 0))


# ---------------------------------------------------------------------------------------------
# Forecast, budgets, recommendations, the API user
# ---------------------------------------------------------------------------------------------


def forecast(organization: Any) -> tuple[Any, float]:
    from forecasting.models import ForecastRun
    from forecasting.services import forecast_run_create

    started = time.perf_counter()
    run = forecast_run_create(organization=organization, horizon_days=365)
    run.refresh_from_db()
    if run.status != ForecastRun.Status.SUCCEEDED:
        raise RuntimeError(f"forecast run #{run.pk} ended {run.status}: {run.error}")
    return run, time.perf_counter() - started


def create_budgets(organization: Any, teams: list[Any], last_day: date) -> list[Any]:
    """An organization-wide monthly budget, monthly and quarterly team budgets, a provider and a model budget,
    each sized from last month's actual cost."""
    from ingest.selectors import usage_summary
    from planning.services import budget_save

    last_month_end = last_day.replace(day=1) - timedelta(days=1)
    month = {"date_from": last_month_end.replace(day=1), "date_to": last_month_end}
    starts_on = last_day.replace(month=1, day=1).isoformat()

    def cost(**filters: Any) -> Decimal:
        return sum((row["cost"] for row in usage_summary(organization=organization, **month, **filters)), Decimal(0))

    def amount(value: Decimal, factor: str) -> str:
        return str(max(Decimal(100), (value * Decimal(factor)).quantize(Decimal(1))))

    specs = [{"name": "Whole organization monthly", "period": "month", "amount": amount(cost(), "1.02")}]
    for team in teams[:8]:
        specs.append(
            {
                "name": f"{team.name} monthly",
                "team": team.name,
                "period": "month",
                "amount": amount(cost(team=team.name), "1.1"),
            }
        )
    for team in teams[8:10]:
        specs.append(
            {
                "name": f"{team.name} quarterly",
                "team": team.name,
                "period": "quarter",
                "amount": amount(cost(team=team.name), "3.2"),
            }
        )
    specs.append(
        {
            "name": "OpenAI monthly",
            "provider": "openai",
            "period": "month",
            "amount": amount(cost(provider="openai"), "1.05"),
        }
    )
    specs.append(
        {
            "name": "gpt-4o-mini monthly",
            "model": "gpt-4o-mini",
            "period": "month",
            "amount": amount(cost(model="gpt-4o-mini"), "1.05"),
        }
    )
    return [
        budget_save(organization=organization, data={**spec, "starts_on": starts_on, "owners": ""}) for spec in specs
    ]


def api_token(organization: Any) -> str:
    from finops.models import Role
    from finops.services import user_api_token, user_upsert

    user, _ = user_upsert(username="bench-reader", organization=organization, role=Role.VIEWER)
    return user_api_token(user=user)


# ---------------------------------------------------------------------------------------------
# In process: the raw ledger view against the rollup
# ---------------------------------------------------------------------------------------------


def raw_ledger_month_team(organization: Any) -> list[dict[str, Any]]:
    """Usage by month and team as ``usage_summary`` computed it before the rollup: from the LedgerEntry view."""
    from django.db.models import Count, F, Q, Sum, Value
    from django.db.models.functions import Coalesce, TruncMonth

    from ingest.models import COUNTED_COST_BASES, LedgerEntry

    rows = (
        LedgerEntry.objects.filter(organization=organization)
        .annotate(g_month=TruncMonth("date"), g_team=Coalesce(F("team__name"), Value("unallocated")))
        .values("g_month", "g_team")
        .annotate(
            tokens=Coalesce(Sum("quantity", filter=~Q(token_type="other") & Q(unit="tokens")), Value(0)),
            cost=Sum("cost", filter=Q(cost_basis__in=COUNTED_COST_BASES)),
            records=Count("id"),
        )
        .order_by("g_month", "g_team")
    )
    return [
        {
            "month": row["g_month"].isoformat()[:7],
            "team": row["g_team"],
            "tokens": row["tokens"],
            "records": row["records"],
        }
        for row in rows
    ]


# ---------------------------------------------------------------------------------------------
# gunicorn and the clients
# ---------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(port: int, url: str, token: str, timeout: float = 300) -> tuple[int, bytes, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        started = time.perf_counter()
        connection.request("GET", url, headers={"Authorization": f"Token {token}", "Accept": "application/json"})
        response = connection.getresponse()
        body = response.read()
        return response.status, body, time.perf_counter() - started
    finally:
        connection.close()


def start_gunicorn(
    workdir: Path, *, workers: int, threads: int, conn_max_age: int, token: str, worker_connections: int = 0
) -> tuple[Any, int]:
    """gunicorn serving the project on a free loopback port, in the environment a deployment gives it."""
    port = _free_port()
    database_url = os.environ["DATABASE_URL"]
    if conn_max_age:
        database_url += f"?conn_max_age={conn_max_age}"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # The clients are one user: the per-user request throttle must not be what is measured.
        "THROTTLE_USER_RATE": "1000000/second",
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "finops.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "600",
        "--log-level",
        "warning",
    ]
    if threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    if threads > 1 and worker_connections:
        command += ["--worker-connections", str(worker_connections)]
    log = (workdir / "gunicorn.log").open("wb")
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{_tail(workdir / 'gunicorn.log')}")
        try:
            status, _, _ = _get(port, "/api/v1/organizations/", token, timeout=10)
            if status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gunicorn did not answer within {SERVER_START_SECONDS}s:\n{_tail(workdir / 'gunicorn.log')}")


def stop_gunicorn(process: Any) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Figures:
    cold_ms: float
    latencies_ms: list[float]
    errors: int
    seconds: float
    load_average: float  # of the machine, over the last minute, when the phase ended
    steal_share: float  # of the machine's CPU time during the phase, taken by the hypervisor for other guests

    def percentile(self, share: float) -> float:
        import numpy as np

        return float(np.percentile(self.latencies_ms, share * 100)) if self.latencies_ms else math.nan

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


async def _client_loop(
    port: int, urls: list[str], request_head: bytes, number: int, deadline: float, results: list[tuple[float, int]]
) -> None:
    """One client: a keep-alive connection (reopened when the server closes it), requesting the urls in turn until
    ``deadline``; appends (latency ms, status) per request, status 0 for a broken connection."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    index = number
    while time.perf_counter() < deadline:
        url = urls[index % len(urls)]
        index += 1
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            writer.write(b"GET " + url.encode() + request_head)
            status, close = await _read_response(reader)
            if close:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError):
            if writer is not None:
                writer.close()
            writer = None
            status = 0
        results.append(((time.perf_counter() - started) * 1000, status))
    if writer is not None:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Reads one HTTP/1.1 response (Content-Length or chunked body); returns its status and whether the server
    closes the connection after it."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() == "close"


def drive(port: int, urls: list[str], token: str, *, clients: int, seconds: float) -> tuple[list[float], int, float]:
    """``clients`` concurrent keep-alive connections driven by one asyncio event loop (no threads: no client's
    latency includes waiting for the GIL while other clients parse their answers), requesting the urls in turn until
    ``seconds`` have passed; returns the latencies (ms) of the 200s, the number of other answers, and the time
    taken."""
    request_head = (
        f" HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Token {token}\r\nAccept: application/json\r\n"
        "Accept-Encoding: gzip\r\n\r\n"
    ).encode()
    results: list[tuple[float, int]] = []

    async def all_clients() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(_client_loop(port, urls, request_head, number, deadline, results) for number in range(clients))
        )
        return time.perf_counter() - started

    elapsed = asyncio.run(all_clients())
    return [ms for ms, status in results if status == 200], sum(1 for _, status in results if status != 200), elapsed


def drive_threads(
    port: int, urls: list[str], token: str, *, clients: int, seconds: float
) -> tuple[list[float], int, float]:
    """The previous load generator, kept to compare against (``--client threads``): ``clients`` threads of this
    process, each with an ``http.client`` keep-alive connection, requesting the urls in turn until ``seconds`` have
    passed; returns the latencies (ms) of the 200s, the other answers, the time. Its latencies include each
    thread's wait for the GIL."""
    results: list[tuple[float, int]] = []
    barrier = threading.Barrier(clients + 1)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json", "Accept-Encoding": "gzip"}

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        mine: list[tuple[float, int]] = []
        barrier.wait()
        index = number
        while time.perf_counter() < deadline:
            url = urls[index % len(urls)]
            index += 1
            started = time.perf_counter()
            try:
                connection.request("GET", url, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException):
                connection.close()
                status = 0
            mine.append(((time.perf_counter() - started) * 1000, status))
        connection.close()
        results.extend(mine)

    threads = [threading.Thread(target=client, args=(number,), daemon=True) for number in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline = started + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return [ms for ms, status in results if status == 200], sum(1 for _, status in results if status != 200), elapsed


DRIVERS = {"asyncio": drive, "threads": drive_threads}


def measure(
    port: int, urls: list[str], token: str, *, clients: int, seconds: float, client: str = "asyncio"
) -> Figures:
    status, body, cold = _get(port, urls[0], token)
    if status != 200:
        raise RuntimeError(f"GET {urls[0]} answered {status}: {body[:500]!r}")
    steal_before = _cpu_times()
    latencies, errors, elapsed = DRIVERS[client](port, urls, token, clients=clients, seconds=seconds)
    steal_after = _cpu_times()
    total = sum(steal_after) - sum(steal_before)
    return Figures(
        cold_ms=cold * 1000,
        latencies_ms=latencies,
        errors=errors,
        seconds=elapsed,
        load_average=os.getloadavg()[0],
        steal_share=(steal_after[7] - steal_before[7]) / total if total > 0 and len(steal_after) > 7 else math.nan,
    )


def _cpu_times() -> list[int]:
    """The machine's CPU time counters (``/proc/stat``: user, nice, system, idle, iowait, irq, softirq, steal, ...);
    empty where there is no ``/proc``."""
    try:
        with open("/proc/stat") as stat:
            return [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return []


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    lines: int
    second_lines: int
    teams: int
    second_teams: int
    seconds: float
    clients: int
    workers: int
    threads: int
    conn_max_age: int
    worker_connections: int
    client: str
    as_json: bool


def run(settings: Settings) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="tokencast-bench-api-"))
    server = None
    try:
        started = time.perf_counter()
        start_database(workdir)
        print(
            f"PostgreSQL started, database migrated in {time.perf_counter() - started:.1f}s "
            f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )

        from django.utils import timezone

        from ingest.rollup import usage_rollup_refresh
        from ingest.selectors import usage_summary

        last_day = timezone.localdate() - timedelta(days=1)
        first_day = last_day - timedelta(days=DAYS - 1)
        import_fx_rates(first_day)

        big, big_teams = create_organization(BIG, settings.teams, "USD")
        second, second_teams = create_organization(SECOND, settings.second_teams, "EUR")
        for organization, teams, lines in (
            (big, big_teams, settings.lines),
            (second, second_teams, settings.second_lines),
        ):
            streams = plan_streams(organization, teams, lines, first_day, last_day, SEED)
            seconds = load_ledger(organization, streams, first_day, last_day)
            print(
                f"ledger of {organization.slug}: {lines:,} lines ({len(streams):,} streams, {len(teams)} teams, "
                f"{first_day} to {last_day}) loaded in {seconds:.1f}s",
                flush=True,
            )
            started = time.perf_counter()
            rows = usage_rollup_refresh(organization=organization)
            refresh = time.perf_counter() - started
            ledger, rollup = ledger_and_rollup_totals(organization)
            if ledger != rollup:
                raise RuntimeError(f"the rollup of {organization.slug} disagrees: ledger {ledger}, rollup {rollup}")
            print(
                f"rollup refresh of {organization.slug} (whole organization): {refresh:.1f}s, {rows:,} rows for "
                f"{ledger[1]:,} ledger records; tokens and records equal the ledger's",
                flush=True,
            )
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_streams; DROP TABLE bench_uploads")
            started = time.perf_counter()
            cursor.execute("VACUUM ANALYZE ingest_ledgerline")
            cursor.execute("VACUUM ANALYZE ingest_usagedaily")
            cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('ingest_ledgerline'))")
            ledger_size = cursor.fetchone()[0]
        print(
            f"VACUUM ANALYZE: {time.perf_counter() - started:.1f}s; ledger table with indexes {ledger_size}", flush=True
        )

        run_, forecast_seconds = forecast(big)
        print(
            f"forecast run #{run_.pk} of {big.slug}: {run_.status} in {forecast_seconds:.1f}s, "
            f"{run_.series_total} series ({run_.model_name})",
            flush=True,
        )
        budgets = create_budgets(big, big_teams, last_day)
        from planning.recommendations import recommendations_generate

        started = time.perf_counter()
        recommendations_generate(organization=big)
        print(
            f"{len(budgets)} budgets; recommendations generated in {time.perf_counter() - started:.1f}s: "
            f"{_count_recommendations(big)}",
            flush=True,
        )
        token = api_token(big)

        started = time.perf_counter()
        raw = raw_ledger_month_team(big)
        raw_seconds = time.perf_counter() - started
        started = time.perf_counter()
        rolled = usage_summary(organization=big, by=["month", "team"])
        rollup_seconds = time.perf_counter() - started
        same = [(r["month"], r["team"], r["tokens"], r["records"]) for r in raw] == [
            (r["month"], r["team"], r["tokens"], r["records"]) for r in rolled
        ]
        if not same:
            raise RuntimeError("usage by month and team from the rollup disagrees with the raw ledger view")
        print(
            f"usage by month x team in process ({len(rolled):,} groups, tokens and records equal): raw ledger view "
            f"{raw_seconds * 1000:,.0f} ms, rollup {rollup_seconds * 1000:,.1f} ms; "
            f"raw/rollup ratio {raw_seconds / rollup_seconds:,.1f}",
            flush=True,
        )

        with connection.cursor() as cursor:
            # The setup's writes (gigabytes of ledger, the forecast's rows) flushed and the tables it wrote analysed
            # now, so that neither a checkpoint nor an autovacuum of them lands among the measured requests.
            started = time.perf_counter()
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")
        print(f"VACUUM ANALYZE and CHECKPOINT before the load: {time.perf_counter() - started:.1f}s", flush=True)
        server, port = start_gunicorn(
            workdir,
            workers=settings.workers,
            threads=settings.threads,
            conn_max_age=settings.conn_max_age,
            token=token,
            worker_connections=settings.worker_connections,
        )
        # Every worker loads the URL configuration and views on its first request: not any endpoint's cost.
        drive(port, ["/api/v1/organizations/"], token, clients=settings.clients, seconds=1.0)
        busiest_model = max(usage_summary(organization=big, by=["model"]), key=lambda row: row["tokens"])["model"]
        endpoints: dict[str, list[str]] = {
            "baseline_organizations": ["/api/v1/organizations/"],
            "usage_month_team": ["/api/v1/usage/summary/?by=month,team"],
            "usage_day_model": [f"/api/v1/usage/summary/?by=day&model={busiest_model}"],
            "forecast_latest": ["/api/v1/forecasts/latest/"],
            "budget_status": [f"/api/v1/budgets/{budget.pk}/status/" for budget in budgets],
            "recommendations": ["/api/v1/recommendations/"],
        }
        server_shape = f"{settings.workers} {'sync' if settings.threads <= 1 else f'gthread x {settings.threads}'}"
        if settings.threads > 1 and settings.worker_connections:
            server_shape += f" (at most {settings.worker_connections} connections each)"
        print(
            f"\ngunicorn {server_shape} workers, CONN_MAX_AGE {settings.conn_max_age}; {settings.clients} clients, "
            f"{settings.seconds:g}s per endpoint (usage by day: model {busiest_model}; budget status: "
            f"{len(budgets)} budgets in turn)",
            flush=True,
        )
        figures: dict[str, Figures] = {}
        if settings.client == "asyncio":
            # The load generator itself, measured: the same trivial endpoint driven by the previous generator
            # (threads of this process, http.client), whose own GIL waits are in its latencies.
            figures["baseline_threads_client"] = measure(
                port,
                endpoints["baseline_organizations"],
                token,
                clients=settings.clients,
                seconds=settings.seconds,
                client="threads",
            )
        for name, urls in endpoints.items():
            figures[name] = measure(
                port, urls, token, clients=settings.clients, seconds=settings.seconds, client=settings.client
            )
        report(figures, settings.as_json)
    finally:
        if server is not None:
            stop_gunicorn(server)
        stop_database(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def _count_recommendations(organization: Any) -> str:
    from planning.models import Recommendation

    return f"{Recommendation.objects.filter(organization=organization).count()} stored"


def report(figures: dict[str, Figures], as_json: bool) -> None:
    baseline = figures["baseline_organizations"].percentile(0.95)
    print(
        f"{'endpoint':<24} {'cold ms':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/s':>8} "
        f"{'errors':>6} {'p95/baseline':>12} {'load':>5} {'steal%':>6}"
    )
    for name, item in figures.items():
        print(
            f"{name:<24} {item.cold_ms:>9.1f} {item.percentile(0.5):>8.1f} {item.percentile(0.95):>8.1f} "
            f"{item.percentile(0.99):>8.1f} {max(item.latencies_ms, default=math.nan):>8.1f} {item.rps:>8.1f} "
            f"{item.errors:>6} {item.percentile(0.95) / baseline:>12.2f} {item.load_average:>5.1f} "
            f"{item.steal_share * 100:>6.1f}"
        )
    measured = {name: item for name, item in figures.items() if not name.startswith("baseline_")}
    worst = max(measured, key=lambda name: measured[name].percentile(0.95))
    cold_worst = max(measured, key=lambda name: measured[name].cold_ms)
    print(
        f"endpoints with warm p95 above {TARGET_P95_MS:.0f} ms: "
        f"{', '.join(n for n, i in measured.items() if i.percentile(0.95) > TARGET_P95_MS) or 'none'}; "
        f"slowest cold request: {measured[cold_worst].cold_ms:.1f} ms ({cold_worst})"
    )
    if as_json:
        print(
            json.dumps(
                {
                    name: {
                        "p50_ms": round(item.percentile(0.5), 1),
                        "p95_ms": round(item.percentile(0.95), 1),
                        "rps": round(item.rps, 1),
                        "cold_ms": round(item.cold_ms, 1),
                    }
                    for name, item in figures.items()
                }
            )
        )
    else:
        print(f"worst warm p95: {measured[worst].percentile(0.95):.1f} ms ({worst}; target <= {TARGET_P95_MS:.0f} ms)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, help=f"ledger lines of the big organization (default {DEFAULT_LINES:,})")
    parser.add_argument(
        "--second-lines", type=int, help=f"ledger lines of the second organization (default {DEFAULT_SECOND_LINES:,})"
    )
    parser.add_argument("--seconds", type=float, help=f"seconds of load per endpoint (default {DEFAULT_SECONDS:g})")
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, help="concurrent clients (default 20)")
    parser.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help=f"gunicorn worker processes (default {DEFAULT_WORKERS})"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"threads per worker: > 1 uses gthread, 1 sync workers (default {DEFAULT_THREADS})",
    )
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=DEFAULT_CONN_MAX_AGE,
        help="seconds a worker thread keeps its database connection (DATABASE_URL ?conn_max_age=; "
        f"default {DEFAULT_CONN_MAX_AGE}; 0: one connection per request)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: {QUICK_LINES:,} + {QUICK_SECOND_LINES:,} lines, {QUICK_TEAMS} teams, {QUICK_SECONDS:g}s",
    )
    parser.add_argument(
        "--worker-connections",
        type=int,
        help="connections a gthread worker holds at once (gunicorn --worker-connections; default: the clients divided "
        "evenly over the workers, so that the keep-alive connections cannot pile onto one worker; 0: gunicorn's 1000)",
    )
    parser.add_argument(
        "--client",
        choices=sorted(DRIVERS),
        default="asyncio",
        help="load generator: one asyncio loop (default), or threads with http.client (the previous one)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last")
    args = parser.parse_args(argv)
    # SIGTERM (a CI time-out, kill) unwinds through the finally blocks that stop gunicorn and PostgreSQL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    settings = Settings(
        lines=args.lines or (QUICK_LINES if args.quick else DEFAULT_LINES),
        second_lines=args.second_lines or (QUICK_SECOND_LINES if args.quick else DEFAULT_SECOND_LINES),
        teams=QUICK_TEAMS if args.quick else TEAMS,
        second_teams=QUICK_SECOND_TEAMS if args.quick else SECOND_TEAMS,
        seconds=args.seconds or (QUICK_SECONDS if args.quick else DEFAULT_SECONDS),
        clients=args.clients,
        workers=args.workers,
        threads=args.threads,
        conn_max_age=args.conn_max_age,
        worker_connections=(
            args.worker_connections if args.worker_connections is not None else -(-args.clients // args.workers)
        ),
        client=args.client,
        as_json=args.json,
    )
    run(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
