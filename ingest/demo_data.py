"""Generate realistic demo usage as real OpenAI dashboard usage export files.

The job of this module is to write ``completions_usage_<first-day>_<last-day>.csv`` files, one per
calendar month, byte-compatible with the OpenAI dashboard usage export (new schema, daily buckets),
so a demo organisation can be seeded through the ordinary ingest path instead of by writing ledger
rows directly.

The synthetic usage has the features a forecaster has to cope with: a weekday/weekend cycle,
compound monthly growth, launch steps, holiday dips, lognormal day-to-day noise, model migrations
that follow real OpenAI snapshot release dates, prompt caching, cache writes and Batch API traffic.

Pure Python (standard library only, no Django). Output is deterministic for a given seed: every
random draw comes from a ``random.Random`` seeded by (seed, project, day).
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

__all__ = [
    "DEMO_PROJECTS",
    "HEADER",
    "DemoProject",
    "UsageRow",
    "export_filename",
    "generate_usage_rows",
    "model_shares",
    "month_spans",
    "release_date",
    "series_start",
    "write_openai_usage_exports",
]

HEADER: tuple[str, ...] = (
    "start_time",
    "end_time",
    "start_time_iso",
    "end_time_iso",
    "project_id",
    "num_model_requests",
    "user_id",
    "api_key_id",
    "model",
    "batch",
    "service_tier",
    "compute_units",
    "input_tokens",
    "output_tokens",
    "input_cached_tokens",
    "input_cache_write_tokens",
    "input_uncached_tokens",
    "input_text_tokens",
    "output_text_tokens",
    "input_cached_text_tokens",
    "input_audio_tokens",
    "input_cached_audio_tokens",
    "output_audio_tokens",
    "input_image_tokens",
    "input_cached_image_tokens",
    "output_image_tokens",
)

DAYS_PER_MONTH = 30.4375
DAILY_NOISE_SIGMA = 0.12  # lognormal sigma of a project's daily volume
SPLIT_NOISE_SIGMA = 0.05  # lognormal sigma of ratios and per-row splits
ADOPTION_LAG_DAYS = 14  # by default a newer model takes traffic two weeks after its release...
ADOPTION_RAMP_DAYS = 60  # ...and reaches its full share two months later
LEGACY_SHARE = 0.15  # what an older model keeps once a newer one is fully adopted
SECONDARY_KEY_SHARE = 0.08  # traffic share of each non-primary API key (staging, dev)
REASONING_OUTPUT_FACTOR = 1.25  # reasoning models bill their hidden reasoning as output tokens
REASONING_MODEL_PREFIXES = ("o1", "o3", "o4", "gpt-5")
HOLIDAY_FACTORS: dict[tuple[int, int], float] = {
    (12, 24): 0.6,
    (12, 25): 0.3,
    (12, 31): 0.6,
    (1, 1): 0.3,
}
_SNAPSHOT_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class DemoProject:
    """One OpenAI project of the demo organisation and the shape of its usage.

    ``models`` lists OpenAI snapshot ids in adoption order: each model takes traffic only after its
    release date (read from the snapshot suffix) and gradually takes over from the models before it.
    ``base_daily_tokens`` is the input + output volume of a typical weekday at the start of the series.
    ``launch_day`` is a day offset from the first generated day from which usage is multiplied by
    ``launch_factor``. The fields after ``launch_factor`` shape the token mix and have defaults.
    """

    project_id: str
    team: str
    models: tuple[str, ...]
    base_daily_tokens: int
    monthly_growth: float
    launch_day: int | None
    launch_factor: float
    output_ratio: float = 0.25  # output tokens as a share of input tokens
    cached_share: float = 0.0  # cached tokens as a share of input tokens
    cache_write_share: float = 0.0  # cache-write tokens as a share of input tokens
    batch_share: float = 0.0  # share of traffic sent through the Batch API
    weekend_factor: float = 0.42  # weekend volume relative to a weekday
    tokens_per_request: int = 2_000
    api_keys: tuple[str, ...] = ("prod",)  # key suffixes; the first one carries most of the traffic
    adoption_lag_days: int = ADOPTION_LAG_DAYS  # days after a model's release before it takes traffic

    @property
    def slug(self) -> str:
        """The project id without its ``proj_`` prefix, used to name keys and users."""
        return self.project_id.removeprefix("proj_")

    def api_key_id(self, suffix: str) -> str:
        return f"key_{self.slug}_{suffix}"

    @property
    def user_id(self) -> str:
        return f"user-{self.slug}"


DEMO_PROJECTS: tuple[DemoProject, ...] = (
    DemoProject(
        project_id="proj_support_bot",
        team="Support",
        models=("gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14", "gpt-5-mini-2025-08-07"),
        base_daily_tokens=22_000_000,
        monthly_growth=0.05,
        launch_day=None,
        launch_factor=1.0,
        output_ratio=0.28,
        cached_share=0.35,
        cache_write_share=0.02,
        weekend_factor=0.5,
        tokens_per_request=2_500,
    ),
    DemoProject(
        project_id="proj_search_rag",
        team="Search",
        models=("gpt-4o-2024-08-06", "gpt-4.1-2025-04-14"),
        base_daily_tokens=18_000_000,
        monthly_growth=0.04,
        launch_day=240,
        launch_factor=1.7,
        output_ratio=0.15,
        cached_share=0.2,
        weekend_factor=0.4,
        tokens_per_request=4_000,
        api_keys=("prod", "staging"),
        adoption_lag_days=35,
    ),
    DemoProject(
        project_id="proj_analytics_etl",
        team="Analytics",
        models=("gpt-4o-mini-2024-07-18", "o4-mini-2025-04-16"),
        base_daily_tokens=10_000_000,
        monthly_growth=0.07,
        launch_day=None,
        launch_factor=1.0,
        output_ratio=0.22,
        batch_share=0.6,
        weekend_factor=0.35,
        tokens_per_request=8_000,
        adoption_lag_days=50,
    ),
    DemoProject(
        project_id="proj_platform_tools",
        team="Platform",
        models=("gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14"),
        base_daily_tokens=6_000_000,
        monthly_growth=0.03,
        launch_day=400,
        launch_factor=1.35,
        output_ratio=0.33,
        cached_share=0.12,
        cache_write_share=0.01,
        weekend_factor=0.45,
        tokens_per_request=1_200,
        api_keys=("prod", "dev"),
        adoption_lag_days=7,
    ),
)


@dataclass(frozen=True)
class UsageRow:
    """One daily bucket of the export: a (day, project, key, model, batch) group of requests."""

    day: date
    project_id: str
    user_id: str
    api_key_id: str
    model: str
    batch: bool
    num_model_requests: int
    input_tokens: int
    output_tokens: int
    input_cached_tokens: int
    input_cache_write_tokens: int

    @property
    def input_uncached_tokens(self) -> int:
        return self.input_tokens - self.input_cached_tokens - self.input_cache_write_tokens

    def as_csv_fields(self) -> list[str]:
        start = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)
        end = start + timedelta(days=1)
        return [
            str(int(start.timestamp())),
            str(int(end.timestamp())),
            start.isoformat(),
            end.isoformat(),
            self.project_id,
            _count(self.num_model_requests),
            self.user_id,
            self.api_key_id,
            self.model,
            "True" if self.batch else "False",
            "default",
            "",  # compute_units: empty for token-billed models
            _count(self.input_tokens),
            _count(self.output_tokens),
            _count(self.input_cached_tokens),
            _count(self.input_cache_write_tokens),
            _count(self.input_uncached_tokens),
            _count(self.input_tokens),  # input_text_tokens: all input is text
            _count(self.output_tokens),  # output_text_tokens
            _count(self.input_cached_tokens),  # input_cached_text_tokens
            *(_count(0) for _ in range(6)),  # audio and image modalities
        ]


def _count(value: int) -> str:
    """Counts are written as floats, the way the dashboard exports them (``31422.0``)."""
    return f"{value}.0"


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_spans(start: date, end: date) -> list[tuple[date, date]]:
    """The (first day, last day) of each calendar month touched by ``start..end``, clipped to it."""
    spans: list[tuple[date, date]] = []
    first = start
    while first <= end:
        next_month = _add_months(date(first.year, first.month, 1), 1)
        last = min(end, next_month - timedelta(days=1))
        spans.append((first, last))
        first = next_month
    return spans


def export_filename(first: date, last: date) -> str:
    """The dashboard's file name for an export covering ``first..last`` inclusive."""
    return f"completions_usage_{first.isoformat()}_{last.isoformat()}.csv"


def release_date(model: str) -> date | None:
    """The release date encoded in an OpenAI snapshot id (``gpt-4o-2024-08-06``), if any."""
    match = _SNAPSHOT_DATE.search(model)
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    return date(year, month, day)


def _adoption(model: str, day: date, lag_days: int) -> float:
    """How far a newer model has been adopted on ``day``: 0 before release (and a lag), ramping to 1."""
    released = release_date(model)
    if released is None:
        return 1.0
    age = (day - released).days
    if age < 0:
        return 0.0
    return min(1.0, max(0.0, (age - lag_days) / ADOPTION_RAMP_DAYS))


def _is_released(model: str, day: date) -> bool:
    released = release_date(model)
    return released is None or released <= day


def model_shares(models: Sequence[str], day: date, *, lag_days: int = ADOPTION_LAG_DAYS) -> dict[str, float]:
    """Traffic share of each model on ``day``; newer models take over, older ones keep a residue."""
    adoption = [_adoption(model, day, lag_days) for model in models]
    if not any(_is_released(model, day) for model in models):
        return {}
    # The first model that exists on that day is the project's original one: fully adopted.
    first_live = next(index for index, model in enumerate(models) if _is_released(model, day))
    adoption[first_live] = 1.0
    weights: dict[str, float] = {}
    for index, model in enumerate(models):
        weight = adoption[index]
        for newer in adoption[index + 1 :]:
            weight *= 1.0 - (1.0 - LEGACY_SHARE) * newer
        if weight > 0:
            weights[model] = weight
    total = sum(weights.values())
    return {model: weight / total for model, weight in weights.items()}


def _calendar_factor(project: DemoProject, day: date) -> float:
    factor = project.weekend_factor if day.weekday() >= 5 else 1.0
    return factor * HOLIDAY_FACTORS.get((day.month, day.day), 1.0)


def _noise(rng: random.Random, sigma: float) -> float:
    """A mean-one lognormal multiplier."""
    return rng.lognormvariate(-sigma * sigma / 2, sigma)


def _project_rows(project: DemoProject, day: date, offset: int, seed: int) -> Iterator[UsageRow]:
    rng = random.Random(f"{seed}:{project.project_id}:{day.isoformat()}")
    shares = model_shares(project.models, day, lag_days=project.adoption_lag_days)
    volume = project.base_daily_tokens * (1.0 + project.monthly_growth) ** (offset / DAYS_PER_MONTH)
    if project.launch_day is not None and offset >= project.launch_day:
        volume *= project.launch_factor
    volume *= _calendar_factor(project, day) * _noise(rng, DAILY_NOISE_SIGMA)

    key_shares = [1.0 - SECONDARY_KEY_SHARE * (len(project.api_keys) - 1)]
    key_shares += [SECONDARY_KEY_SHARE] * (len(project.api_keys) - 1)
    batch_modes = [(False, 1.0 - project.batch_share)]
    if project.batch_share > 0:
        batch_modes.append((True, project.batch_share))

    for model, model_share in shares.items():
        output_ratio = project.output_ratio
        if model.startswith(REASONING_MODEL_PREFIXES):
            output_ratio *= REASONING_OUTPUT_FACTOR
        for key_suffix, key_share in zip(project.api_keys, key_shares, strict=True):
            for batch, batch_share in batch_modes:
                total = volume * model_share * key_share * batch_share * _noise(rng, SPLIT_NOISE_SIGMA)
                ratio = output_ratio * _noise(rng, SPLIT_NOISE_SIGMA)
                input_tokens = round(total / (1.0 + ratio))
                output_tokens = round(total - input_tokens)
                cached = round(input_tokens * min(0.9, project.cached_share * _noise(rng, SPLIT_NOISE_SIGMA)))
                cache_write = round(input_tokens * project.cache_write_share * _noise(rng, SPLIT_NOISE_SIGMA))
                cache_write = min(cache_write, input_tokens - cached)
                requests = round(total / project.tokens_per_request * _noise(rng, SPLIT_NOISE_SIGMA))
                if input_tokens <= 0 and output_tokens <= 0:
                    continue
                yield UsageRow(
                    day=day,
                    project_id=project.project_id,
                    user_id=project.user_id,
                    api_key_id=project.api_key_id(key_suffix),
                    model=model,
                    batch=batch,
                    num_model_requests=max(1, requests),
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    input_cached_tokens=cached,
                    input_cache_write_tokens=cache_write,
                )


def generate_usage_rows(
    start: date, end: date, *, seed: int = 7, projects: Sequence[DemoProject] = DEMO_PROJECTS
) -> Iterator[UsageRow]:
    """Every daily row from ``start`` to ``end`` inclusive, ordered by day, then project."""
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        for project in projects:
            yield from _project_rows(project, day, offset, seed)


def series_start(end: date, months: int) -> date:
    """First day of the series: the first of the month ``months - 1`` months before ``end``'s month."""
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    return _add_months(date(end.year, end.month, 1), -(months - 1))


def write_openai_usage_exports(
    directory: Path,
    *,
    end: date,
    months: int = 18,
    seed: int = 7,
    projects: Sequence[DemoProject] = DEMO_PROJECTS,
) -> list[Path]:
    """Write one OpenAI usage export per calendar month into ``directory``; return the paths by month.

    The series covers exactly ``months`` calendar months: from the first day of the month
    ``months - 1`` months before ``end``'s month through ``end`` inclusive, so the last file is
    partial unless ``end`` is a month end. Each file is named after the days it covers.
    """
    start = series_start(end, months)
    directory.mkdir(parents=True, exist_ok=True)
    rows_by_month: dict[tuple[int, int], list[UsageRow]] = {}
    for row in generate_usage_rows(start, end, seed=seed, projects=projects):
        rows_by_month.setdefault((row.day.year, row.day.month), []).append(row)

    paths: list[Path] = []
    for first, last in month_spans(start, end):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(HEADER)
        for row in rows_by_month.get((first.year, first.month), []):
            writer.writerow(row.as_csv_fields())
        path = directory / export_filename(first, last)
        path.write_bytes(buffer.getvalue().encode("utf-8"))
        paths.append(path)
    return paths
