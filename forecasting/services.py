"""Writes of the forecasting app: create a forecast run, fan its series out in chunks, add them up.

A run goes through three steps, each a service called by a Celery task on the ``forecasting`` queue:

1. ``forecast_run_execute`` (plan): reads the ledger's leaf series (provider x team x model x token type, daily
   tokens) in one query, stores them and their workloads (provider x team daily totals) as the run's
   ``ForecastSeries`` and queues the workloads in chunks of ``CHUNK_SIZE``. Re-running a run replaces its series
   and results.
2. ``forecast_series_chunk_execute`` (fan-out): fits each workload of a chunk with the engine, reusing the model its
   latest backtest chose when that is recent, else backtesting the candidates to choose. A failing workload is
   marked failed with its error; the run goes on. The chunk that finishes the last workload finalizes the run.
3. ``forecast_run_finalize`` (roll-up): splits each workload into its leaves by its forecast model mix and
   token-type split (``forecasting.mix``), prices every leaf with the price projection under the run's scenario and
   migration policy, samples volume and price paths and adds leaves up to every level (``forecasting.rollup``),
   and stores monthly results, each leaf's derived forecast and the organization's daily points.

A what-if run re-prices the token forecasts of its baseline run (no refit), with a model switch, a
cached-input or batch share, or another scenario, so it can be compared side by side with the baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from finops.models import Organization, Role
from finops.selectors import role_require
from forecasting.models import ForecastMonth, ForecastPoint, ForecastRun, ForecastScope, ForecastSeries, PriceScenario
from forecasting.pricing import LeafPricer, scenario_projection
from forecasting.signals import forecast_run_succeeded
from ingest.selectors import usage_daily_by_leaf

if TYPE_CHECKING:  # the roll-up (scipy) is imported by the worker that finalizes, not by web processes
    from forecasting.rollup import Rollup, WorkloadForecast

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
CHUNK_SIZE = 2
"""Workloads per task: a workload's model selection takes one to three seconds (Prophet at each backtest origin),
and an organization has a few to a few dozen workloads, so small chunks spread them over every worker."""
MAX_HORIZON_DAYS = 730
MODEL_CHOICE_MAX_AGE = timedelta(days=35)
"""A series reuses the model its latest backtest chose while that backtest is younger than this; then the
next run backtests the candidates again (so the nightly refresh re-selects models about monthly)."""
PATH_SAMPLES = 300
MIX_NOTE = "; mix: "
"""Joins a workload's fitting reason and its model mix in its ``model_reason``."""
WHAT_IF_KEYS = frozenset({"switch", "cached_input_share", "batch_share"})


def forecast_run_create(
    *,
    organization: Organization,
    horizon_days: int = 365,
    interval_width: float = 0.8,
    scenario: str = "base",
    policy: str = "stay",
    trigger: str = ForecastRun.Trigger.ON_DEMAND,
    what_if: dict[str, Any] | None = None,
    baseline: ForecastRun | None = None,
    user: User | AnonymousUser | None = None,
) -> ForecastRun:
    """Queue a forecast of every series of the organization (or a what-if re-pricing of ``baseline``)."""
    from forecasting.pricing import validate_scenario_and_policy

    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise ValueError(f"horizon_days must be between 1 and {MAX_HORIZON_DAYS}, got {horizon_days}")
    if not 0 < interval_width < 1:
        raise ValueError(f"interval_width must be between 0 and 1 (exclusive), got {interval_width}")
    validate_scenario_and_policy(scenario=scenario, policy=policy, organization=organization)
    what_if = dict(what_if or {})
    unknown = set(what_if) - WHAT_IF_KEYS
    if unknown:
        raise ValueError(f"unknown what-if change {sorted(unknown)}; expected any of {sorted(WHAT_IF_KEYS)}")
    if baseline is not None:
        if baseline.organization_id != organization.pk:
            raise ValueError("the baseline run belongs to another organization")
        if baseline.status != ForecastRun.Status.SUCCEEDED:
            raise ValueError(f"the baseline run #{baseline.pk} has not succeeded (status {baseline.status})")
        horizon_days, interval_width = baseline.horizon_days, baseline.interval_width
        holiday_country = baseline.holiday_country
        trigger = ForecastRun.Trigger.WHAT_IF
    elif what_if:
        raise ValueError("a what-if run needs a baseline run to compare with")
    else:
        holiday_country = organization.holiday_country
    run = ForecastRun.objects.create(
        holiday_country=holiday_country,
        organization=organization,
        horizon_days=horizon_days,
        interval_width=interval_width,
        scenario=scenario,
        policy=policy,
        trigger=trigger,
        what_if=what_if,
        baseline=baseline,
        created_by=user if isinstance(user, User) else None,
    )
    transaction.on_commit(lambda: _enqueue_run(run.pk))
    return run


def _enqueue_run(run_id: int, countdown: float | None = None) -> None:
    from forecasting.tasks import execute_forecast_run

    execute_forecast_run.apply_async((run_id,), countdown=countdown)


def _enqueue_chunk(run_id: int, series_ids: list[int]) -> None:
    from forecasting.tasks import execute_forecast_chunk

    execute_forecast_chunk.delay(run_id, series_ids)


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class _Leaf:
    provider: str
    team: str
    model: str
    token_type: str
    start: date
    values: list[int]


def _leaves(organization: Organization) -> tuple[list[_Leaf], date | None, date | None]:
    """Every leaf series of the ledger, as gap-free daily values over the organization's whole history."""
    rows = usage_daily_by_leaf(organization=organization)
    if not rows:
        return [], None, None
    first, last = rows[0][4], rows[-1][4]
    length = (last - first).days + 1
    by_key: dict[tuple[str, str, str, str], list[int]] = {}
    for provider, team, model, token_type, day, tokens in rows:
        values = by_key.get((provider, team, model, token_type))
        if values is None:
            values = by_key[(provider, team, model, token_type)] = [0] * length
        values[(day - first).days] += tokens
    leaves = []
    for (provider, team, model, token_type), values in sorted(by_key.items()):
        # A leaf's history starts on its first day of use: a model adopted last month has a short history.
        offset = next((index for index, value in enumerate(values) if value), len(values) - 1)
        leaves.append(_Leaf(provider, team, model, token_type, first + timedelta(days=offset), values[offset:]))
    return leaves, first, last


def _workloads(leaves: list[_Leaf]) -> list[_Leaf]:
    """Each provider x team's daily tokens (the sum of its leaves, from its first day of use): what a run fits."""
    grouped: dict[tuple[str, str], list[_Leaf]] = {}
    for leaf in leaves:
        grouped.setdefault((leaf.provider, leaf.team), []).append(leaf)
    workloads = []
    for (provider, team), members in sorted(grouped.items()):
        start = min(leaf.start for leaf in members)
        end = max(leaf.start + timedelta(days=len(leaf.values) - 1) for leaf in members)
        values = [0] * ((end - start).days + 1)
        for leaf in members:
            offset = (leaf.start - start).days
            for index, tokens in enumerate(leaf.values):
                values[offset + index] += tokens
        workloads.append(_Leaf(provider, team, "", "", start, values))
    return workloads


def _series_row(run: ForecastRun, item: _Leaf, kind: str) -> ForecastSeries:
    return ForecastSeries(
        run=run,
        kind=kind,
        provider=item.provider,
        team=item.team,
        model=item.model,
        token_type=item.token_type,
        history_days=len(item.values),
        history_tokens=sum(item.values),
        history={"start": item.start.isoformat(), "values": item.values},
    )


def _claim(run_id: int) -> ForecastRun | None:
    with transaction.atomic():
        run = ForecastRun.objects.select_for_update().select_related("organization").get(pk=run_id)
        if run.status == ForecastRun.Status.SUCCEEDED:
            return None
        if run.not_before is not None and run.not_before > timezone.now():
            return None  # debounced: a later task will run it
        run.status = ForecastRun.Status.RUNNING
        run.started_at = timezone.now()
        run.error = ""
        run.save(update_fields=["status", "started_at", "error"])
        return run


def forecast_run_execute(*, run_id: int) -> ForecastRun:
    """Plan the run: store its leaf and workload series and queue the workloads in chunks (a what-if run is re-priced
    at once)."""
    run = _claim(run_id)
    if run is None:
        return ForecastRun.objects.get(pk=run_id)
    if run.baseline_id is not None:
        return _plan_what_if(run)
    leaves, first, last = _leaves(run.organization)
    if not leaves:
        return _fail(run, "no token usage in the ledger yet: upload an export first")
    with transaction.atomic():
        _clear_results(run, series=True)
        workloads = ForecastSeries.objects.bulk_create(
            [_series_row(run, item, ForecastSeries.Kind.WORKLOAD) for item in _workloads(leaves)]
        )
        ForecastSeries.objects.bulk_create([_series_row(run, leaf, ForecastSeries.Kind.LEAF) for leaf in leaves])
        run.history_start, run.history_end = first, last
        run.history_days = (last - first).days + 1 if first and last else 0
        run.series_total, run.series_done, run.series_failed = len(workloads), 0, 0
        run.save(
            update_fields=[
                "history_start",
                "history_end",
                "history_days",
                "series_total",
                "series_done",
                "series_failed",
            ]
        )
        ids = [item.pk for item in workloads]
        for index in range(0, len(ids), CHUNK_SIZE):
            chunk = ids[index : index + CHUNK_SIZE]
            transaction.on_commit(lambda chunk=chunk: _enqueue_chunk(run.pk, chunk))  # type: ignore[misc]
    run.refresh_from_db()
    return run


def _clear_results(run: ForecastRun, *, series: bool) -> None:
    """Delete what an earlier execution of the run stored (re-running replaces it): months, points, series."""
    run.months.all().delete()
    run.points.all().delete()
    run.scopes.all().delete()
    if series:
        run.series.all().delete()


def _plan_what_if(run: ForecastRun) -> ForecastRun:
    """A what-if run takes its baseline's token forecasts as they are and only prices them differently."""
    baseline = run.baseline
    assert baseline is not None
    with transaction.atomic():
        _clear_results(run, series=True)
        copies = [ForecastSeries(run=run, **_series_fields(item)) for item in baseline.series.all()]
        ForecastSeries.objects.bulk_create(copies)
        run.history_start, run.history_end, run.history_days = (
            baseline.history_start,
            baseline.history_end,
            baseline.history_days,
        )
        fitted = [item for item in copies if item.kind == ForecastSeries.Kind.WORKLOAD]
        run.series_total = len(fitted)
        run.series_done = len(fitted)
        run.series_failed = sum(1 for item in fitted if item.status == ForecastSeries.Status.FAILED)
        run.save()
    return forecast_run_finalize(run_id=run.pk)


@dataclass(frozen=True)
class _Earlier:
    """What a series' latest recent run left for the next one: its backtest (model choice) and Prophet fit."""

    backtest: dict[str, Any]
    prophet_fit: dict[str, Any] | None


def _earlier_fits(run: ForecastRun, series: list[ForecastSeries]) -> dict[tuple[str, str, str, str], _Earlier]:
    """The latest recent backtest and Prophet fit of each series' key (one query per chunk), for reuse."""
    keys = {(item.provider, item.team, item.model, item.token_type) for item in series}
    if not keys:
        return {}
    previous_run = (
        ForecastRun.objects.filter(
            organization_id=run.organization_id,
            status=ForecastRun.Status.SUCCEEDED,
            baseline=None,
            finished_at__gte=timezone.now() - MODEL_CHOICE_MAX_AGE,
        )
        .exclude(pk=run.pk)
        .order_by("-finished_at", "-id")
        .first()
    )
    if previous_run is None:
        return {}
    found: dict[tuple[str, str, str, str], _Earlier] = {}
    oldest = timezone.now().date() - MODEL_CHOICE_MAX_AGE
    # Exactly this chunk's keys: each stored fit is some 15 kB of JSON, not to be read for other series.
    same_keys = Q()
    for provider, team, model, token_type in keys:
        same_keys |= Q(provider=provider, team=team, model=model, token_type=token_type)
    rows = ForecastSeries.objects.filter(same_keys, run=previous_run, status=ForecastSeries.Status.SUCCEEDED)
    for provider, team, model, token_type, backtest, prophet_fit in rows.values_list(
        "provider", "team", "model", "token_type", "backtest", "prophet_fit"
    ):
        selected_on = backtest.get("selected_on") if backtest else None
        if backtest.get("selected") and selected_on and date.fromisoformat(selected_on) >= oldest:
            found[(provider, team, model, token_type)] = _Earlier(backtest=backtest, prophet_fit=prophet_fit)
    return found


def forecast_series_chunk_execute(*, run_id: int, series_ids: list[int]) -> int:
    """Fit the workloads of one chunk; returns how many failed. The last chunk to finish finalizes the run."""
    from forecasting.fitting import fit_series

    run = ForecastRun.objects.get(pk=run_id)
    failed = 0
    done = 0
    pending = list(
        ForecastSeries.objects.filter(run_id=run_id, pk__in=series_ids, status=ForecastSeries.Status.PENDING)
    )
    previous = _earlier_fits(run, pending)
    for series in pending:
        earlier = previous.get((series.provider, series.team, series.model, series.token_type))
        history = pd.DataFrame(
            {
                "ds": pd.date_range(series.history["start"], periods=len(series.history["values"]), freq="D"),
                "y": np.asarray(series.history["values"], dtype=float),
            }
        )
        try:
            fitted = fit_series(
                history,
                horizon_days=run.horizon_days,
                interval_width=run.interval_width,
                reuse_model=earlier.backtest["selected"] if earlier else None,
                previous_backtest=earlier.backtest if earlier else None,
                previous_fit=earlier.prophet_fit if earlier else None,
                holiday_country=run.holiday_country,
                label=f"{series} of run #{run.pk}",
            )
        except Exception as error:  # one bad series must not fail the run
            logger.warning("forecast series %s failed", series, exc_info=True)
            series.status = ForecastSeries.Status.FAILED
            series.error = f"{type(error).__name__}: {error}"
            series.save(update_fields=["status", "error"])
            failed += 1
        else:
            series.status = ForecastSeries.Status.SUCCEEDED
            series.model_name = fitted.model_name
            series.model_reason = fitted.reason
            series.backtest = fitted.backtest
            if not fitted.backtest.get("reused"):
                series.backtest["selected_on"] = timezone.now().date().isoformat()
            series.forecast = fitted.forecast
            series.prophet_fit = fitted.prophet_fit
            series.save(update_fields=["status", "model_name", "model_reason", "backtest", "forecast", "prophet_fit"])
        done += 1
    with transaction.atomic():
        run = ForecastRun.objects.select_for_update().get(pk=run_id)
        ForecastRun.objects.filter(pk=run_id).update(
            series_done=F("series_done") + done, series_failed=F("series_failed") + failed
        )
        run.refresh_from_db()
        finished = run.series_done >= run.series_total and run.status == ForecastRun.Status.RUNNING
    if finished:
        forecast_run_finalize(run_id=run_id)
    return failed


def forecast_run_finalize(*, run_id: int) -> ForecastRun:
    """Split each workload into its leaves by its mix, price them, add them up to every level with intervals and
    store the run's results."""
    from forecasting.rollup import roll_up, shared_shock_correlation

    run = ForecastRun.objects.select_related("organization").get(pk=run_id)
    series = list(run.series.all())
    succeeded = [
        item
        for item in series
        if item.kind == ForecastSeries.Kind.WORKLOAD and item.status == ForecastSeries.Status.SUCCEEDED
    ]
    if not succeeded:
        errors = "; ".join(sorted({item.error for item in series if item.error})[:3])
        return _fail(run, f"no series could be forecast ({errors or 'no series'})")
    assert run.history_end is not None
    start = run.history_end + timedelta(days=1)
    dates = pd.date_range(start, periods=run.horizon_days, freq="D")
    pricer = LeafPricer(
        organization=run.organization,
        history_end=run.history_end,
        start=start,
        horizon_days=run.horizon_days,
        scenario=run.scenario,
        policy=run.policy,
        what_if=run.what_if,
        n_samples=PATH_SAMPLES,
    )
    leaves_by_workload: dict[tuple[str, str], list[ForecastSeries]] = {}
    for item in series:
        if item.kind == ForecastSeries.Kind.LEAF:
            leaves_by_workload.setdefault((item.provider, item.team), []).append(item)
    workloads = []
    for workload in succeeded:
        members = leaves_by_workload.get((workload.provider, workload.team), [])
        workloads.append(_workload_forecast(run, workload, members, pricer))
    correlation = shared_shock_correlation([np.asarray(item.history["values"], dtype=float) for item in succeeded])
    rollup = roll_up(workloads, dates, n_samples=PATH_SAMPLES, shared_correlation=correlation)
    months = _level_month_rows(run, rollup)
    points = _daily_points(run, rollup)
    with transaction.atomic():
        _clear_results(run, series=False)
        _store_leaf_forecasts(series, succeeded, workloads, rollup)
        ForecastMonth.objects.bulk_create(months, batch_size=2000)
        ForecastPoint.objects.bulk_create(points, batch_size=2000)
        ForecastScope.objects.bulk_create(_scope_rows(run, rollup), batch_size=500)
        run.backtest = {**_backtest_summary(succeeded), "shared_shock_correlation": round(correlation, 3)}
        run.model_name = _served_summary(succeeded)
        workload_count = sum(1 for item in series if item.kind == ForecastSeries.Kind.WORKLOAD)
        run.model_reason = (
            f"{len(succeeded)} of {workload_count} workloads forecast ({run.series_failed} failed), split into "
            f"{sum(len(item.leaves) for item in workloads)} leaves by their model mix"
        )
        run.cost_per_million_tokens = pricer.current_cost_per_million()
        run.status = ForecastRun.Status.SUCCEEDED
        run.finished_at = timezone.now()
        run.save()
        transaction.on_commit(lambda: forecast_run_succeeded.send(sender=ForecastRun, run=run))
    return run


def _scope_rows(run: ForecastRun, rollup: Rollup) -> list[ForecastScope]:
    """What budgets and anomaly checks read: each cell's sampled monthly cost and mean daily cost, and the first
    days' 99% band of the organization and of each team x model."""
    from forecasting.rollup import KEY_SEPARATOR

    assert rollup.month_starts is not None
    months = [month.date().isoformat() for month in rollup.month_starts]
    rows = [
        ForecastScope(
            run=run,
            level=ForecastScope.Level.CELL,
            provider=provider,
            team=team,
            model=model,
            months=months,
            monthly_cost_paths=cell.monthly_cost_paths.astype(np.float32).tobytes() if cell.priced else None,
            samples=cell.monthly_cost_paths.shape[0] if cell.priced else 0,
            daily_cost=[round(float(value), 6) for value in cell.daily_cost],
            daily_tokens=[round(float(value)) for value in cell.daily_tokens],
        )
        for (provider, team, model), cell in sorted(rollup.cells.items())
    ]
    for (level, key), bands in sorted(rollup.day_bands.items()):
        team, _, model = key.partition(KEY_SEPARATOR)
        rows.append(
            ForecastScope(
                run=run,
                level=level,
                team=team,
                model=model,
                months=months,
                daily_cost=[round(float(value), 6) for value in bands.cost_mean],
                daily_tokens=[round(float(value)) for value in bands.tokens_mean],
                band={
                    "tokens": [
                        [round(float(lo)), round(float(hi))]
                        for lo, hi in zip(bands.tokens_lower, bands.tokens_upper, strict=True)
                    ],
                    "cost": [
                        [round(float(lo), 6), round(float(hi), 6)]
                        for lo, hi in zip(bands.cost_lower, bands.cost_upper, strict=True)
                    ],
                },
            )
        )
    return rows


def _workload_forecast(
    run: ForecastRun, workload: ForecastSeries, members: list[ForecastSeries], pricer: LeafPricer
) -> WorkloadForecast:
    """A fitted workload with its leaves: each leaf's fraction of the volume (its mix, any what-if switch and the
    price scenario's demand response applied) and its price outlook."""
    from forecasting.mix import workload_mix
    from forecasting.rollup import PATH_AUTOCORRELATION, LeafPart, WorkloadForecast

    mix = workload_mix(
        {(item.model, item.token_type): np.asarray(item.history["values"], dtype=float) for item in members},
        run.horizon_days,
    )
    parts = []
    for original, item in zip(members, _switched(members, run.what_if), strict=True):
        volume = pricer.volume_multipliers(provider=item.provider, model=item.model)
        fraction = mix.fractions[(original.model, original.token_type)] * (volume if volume is not None else 1.0)
        price = pricer.outlook(provider=item.provider, model=item.model, token_type=item.token_type)
        original_key = (original.provider, original.team, original.model, original.token_type)
        parts.append(LeafPart(item.provider, item.team, item.model, item.token_type, fraction, price, original_key))
    forecast = workload.forecast
    # A what-if copies its baseline's reasons, and a run may be finalized again: the mix replaces the one said before.
    fitted_reason = workload.model_reason.split(MIX_NOTE)[0]
    workload.model_reason = f"{fitted_reason}{MIX_NOTE}{mix.describe()}"[:4000]
    return WorkloadForecast(
        provider=workload.provider,
        team=workload.team,
        yhat=np.asarray(forecast["yhat"], dtype=float),
        lower=np.asarray(forecast["lower"], dtype=float),
        upper=np.asarray(forecast["upper"], dtype=float),
        interval_width=run.interval_width,
        drift_sigma=float(forecast.get("drift_sigma", 0.0)),
        noise_autocorrelation=float(forecast.get("noise_autocorrelation", PATH_AUTOCORRELATION)),
        leaves=tuple(parts),
    )


def _store_leaf_forecasts(
    series: list[ForecastSeries], workloads: list[ForecastSeries], forecasts: list[WorkloadForecast], rollup: Rollup
) -> None:
    """Each leaf's derived forecast (its mean daily path) and why; leaves of a failed workload fail with it."""
    fitted = {(item.provider, item.team): item for item in workloads}
    by_workload = {(item.provider, item.team): item for item in forecasts}
    for item in series:
        if item.kind != ForecastSeries.Kind.LEAF:
            continue
        workload = fitted.get((item.provider, item.team))
        if workload is None:
            item.status, item.model_name = ForecastSeries.Status.FAILED, ""
            item.error = f"its workload {item.provider}/{item.team} could not be forecast"
            item.forecast = {}
        else:
            share = _leaf_share(by_workload[(item.provider, item.team)], item)
            mean = rollup.leaf_means.get((item.provider, item.team, item.model, item.token_type))
            item.status, item.model_name, item.error = ForecastSeries.Status.SUCCEEDED, "mix", ""
            item.model_reason = (
                f"{share:.1%} of workload {item.provider}/{item.team} ({workload.model_name}) over the horizon"
            )
            item.forecast = {"yhat": [round(float(value), 3) for value in mean]} if mean is not None else {}
    ForecastSeries.objects.bulk_update(series, ["status", "model_name", "model_reason", "forecast", "error"])


def _leaf_share(workload: WorkloadForecast, leaf: ForecastSeries) -> float:
    """The leaf's mean fraction of its workload's volume over the horizon (found by the series it stands for, so a
    what-if's switched leaf finds its own part)."""
    key = (leaf.provider, leaf.team, leaf.model, leaf.token_type)
    return next((float(np.mean(part.fraction)) for part in workload.leaves if part.key == key), 0.0)


def _level_month_rows(run: ForecastRun, rollup: Rollup) -> list[ForecastMonth]:
    return [
        ForecastMonth(
            run=run,
            level=level,
            key=key,
            month=month.month.date(),
            days=month.days,
            tokens=round(month.tokens),
            tokens_by_type={kind: round(value) for kind, value in month.tokens_by_type.items()},
            tokens_intervals={width: [round(lo), round(hi)] for width, (lo, hi) in month.tokens_intervals.items()},
            cost=_money(month.cost) if month.cost is not None else None,
            cost_intervals={
                width: [str(_money(lo)), str(_money(hi))] for width, (lo, hi) in month.cost_intervals.items()
            },
            unpriced_tokens=round(month.unpriced_tokens),
        )
        for (level, key), level_months in rollup.months.items()
        for month in level_months
    ]


def _switched(series: Iterable[ForecastSeries], what_if: dict[str, Any]) -> list[ForecastSeries]:
    """Apply an accepted model switch: the source model's tokens are booked (and priced) as the target's."""
    switch = what_if.get("switch") or {}
    source, target = switch.get("from_model"), switch.get("to_model")
    result = []
    for item in series:
        if source and target and item.model == source:
            item = ForecastSeries(
                **{**_series_fields(item), "model": target, "provider": switch.get("to_provider") or item.provider}
            )
        result.append(item)
    return result


def _series_fields(item: ForecastSeries) -> dict[str, Any]:
    return {
        field.name: getattr(item, field.name)
        for field in ForecastSeries._meta.concrete_fields
        if field.name not in ("id", "run")
    }


def _daily_points(run: ForecastRun, rollup: Any) -> list[ForecastPoint]:
    points: list[ForecastPoint] = []
    if rollup.daily_dates is None:
        return points
    for index, day in enumerate(rollup.daily_dates):
        point = ForecastPoint(
            run=run,
            date=day.date(),
            tokens=round(rollup.daily_tokens[index]),
            tokens_lower=round(rollup.daily_lower[index]),
            tokens_upper=round(rollup.daily_upper[index]),
        )
        if rollup.daily_cost is not None and float(np.sum(rollup.daily_cost)) > 0:
            point.cost = _money(rollup.daily_cost[index])
            point.cost_lower = _money(rollup.daily_cost_lower[index])
            point.cost_upper = _money(rollup.daily_cost_upper[index])
        points.append(point)
    return points


def _served_summary(series: list[ForecastSeries]) -> str:
    counts: dict[str, int] = {}
    for item in series:
        counts[item.model_name] = counts.get(item.model_name, 0) + 1
    # Seven model names at most (engine.MODEL_NAMES and the simple ones): well within the field's 200 characters.
    return ", ".join(f"{name} x{count}" for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _backtest_summary(series: list[ForecastSeries]) -> dict[str, Any]:
    """Median metrics of the served models over the series that have a backtest, per horizon."""
    from forecasting.fitting import summarize_backtests

    return summarize_backtests([item.backtest for item in series if item.backtest])


def _fail(run: ForecastRun, message: str) -> ForecastRun:
    run.status = ForecastRun.Status.FAILED
    run.error = message
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run


def forecast_run_rerun(*, run: ForecastRun) -> ForecastRun:
    """Queue a run again; its series and results are replaced when it runs."""
    ForecastRun.objects.filter(pk=run.pk).update(
        status=ForecastRun.Status.QUEUED, not_before=None, error="", finished_at=None
    )
    transaction.on_commit(lambda: _enqueue_run(run.pk))
    run.refresh_from_db()
    return run


def forecast_run_mark_failed(*, run_id: int, message: str) -> None:
    """Record an unexpected failure of a run."""
    ForecastRun.objects.filter(pk=run_id).exclude(status=ForecastRun.Status.SUCCEEDED).update(
        status=ForecastRun.Status.FAILED, error=message, finished_at=timezone.now()
    )


def forecast_refresh_after_ingest(*, organization_id: int) -> ForecastRun:
    """Debounced refresh after an upload: many uploads in a row give one run, started once they stop.

    The first upload queues a run due ``FORECAST_REFRESH_DEBOUNCE_SECONDS`` later; each further upload
    before it starts pushes it back. The run's task is queued with that countdown; a task that wakes
    before the run is due returns, and the one queued by the last upload runs it.
    """
    delay = timedelta(seconds=settings.FORECAST_REFRESH_DEBOUNCE_SECONDS)
    with transaction.atomic():
        organization = Organization.objects.select_for_update().get(pk=organization_id)
        run = (
            ForecastRun.objects.filter(
                organization=organization, trigger=ForecastRun.Trigger.AFTER_INGEST, status=ForecastRun.Status.QUEUED
            )
            .order_by("-id")
            .first()
        )
        due = timezone.now() + delay
        if run is None:
            run = ForecastRun.objects.create(
                organization=organization,
                trigger=ForecastRun.Trigger.AFTER_INGEST,
                not_before=due,
                holiday_country=organization.holiday_country,
            )
        else:
            run.not_before = due
            run.save(update_fields=["not_before"])
        transaction.on_commit(lambda: _enqueue_run(run.pk, countdown=delay.total_seconds()))
    return run


def forecast_refresh_all(*, trigger: str = ForecastRun.Trigger.NIGHTLY) -> list[ForecastRun]:
    """Queue a refresh of every organization that has usage (nightly, from beat)."""
    from ingest.selectors import organizations_with_usage

    return [
        forecast_run_create(organization=organization, trigger=trigger) for organization in organizations_with_usage()
    ]


SCENARIO_WRITE_ROLE = Role.ANALYST
SCENARIO_PARAMETERS = (
    "stay_annual_drift",
    "follow_tier_annual_drift",
    "commodity_lag_months",
    "commodity_annual_factor",
    "mid_lag_months",
    "mid_annual_factor",
    "frontier_lag_months",
    "frontier_annual_factor",
    "elasticity",
)


def price_scenario_save(*, scenario: PriceScenario, values: Mapping[str, Any], actor: Any) -> PriceScenario:
    """Check the caller's role and the values (as the projection will read them; name unique), then save."""
    role_require(user=actor, organization=scenario.organization, min_role=SCENARIO_WRITE_ROLE)
    for name in ("name", "description", *SCENARIO_PARAMETERS):
        if name in values:
            setattr(scenario, name, values[name])
    try:
        scenario_projection(scenario)
    except ValueError as error:
        raise ValidationError(str(error)) from error
    scenario.full_clean()
    scenario.save()
    return scenario


def price_scenario_delete(*, scenario: PriceScenario, actor: Any) -> None:
    """Delete an organization's scenario (analysts and up); runs that used it keep its name."""
    role_require(user=actor, organization=scenario.organization, min_role=SCENARIO_WRITE_ROLE)
    scenario.delete()
