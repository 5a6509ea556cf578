"""Generate realistic demo usage as real provider export files, one file per calendar month.

The job of this module is to write files a demo organisation can be seeded with through the ordinary
ingest path instead of by writing ledger rows directly:

- OpenAI dashboard usage exports, ``completions_usage_<first-day>_<last-day>.csv`` (new schema, daily
  buckets), for four projects: the bulk of the demo's usage;
- Anthropic Console token exports, ``claude_api_tokens_YYYY_MM.csv`` (current header), for two
  workspaces;
- AWS Cost and Usage Report 2.0 CSVs with daily Amazon Bedrock line items of one account, next to
  S3, EC2 and tax lines the ingest skips;
- Azure FOCUS 1.2 exports with daily Azure OpenAI token rows of one subscription, next to non-AI rows.

The synthetic usage has the features a forecaster has to cope with: a weekday/weekend cycle,
compound monthly growth, launch steps, holiday dips, lognormal day-to-day noise, model migrations
that follow real OpenAI snapshot release dates, prompt caching, cache writes and Batch API traffic.

OpenAI projects and the other providers' streams share one volume model (``_daily_volume``,
``_split_tokens``), and every writer hands a month's rows to one monthly CSV writer
(``_write_monthly_exports``).

Pure Python (standard library only, no Django). Output is deterministic for a given seed: every
random draw comes from a ``random.Random`` seeded by (seed, project or stream, day).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol

__all__ = [
    "ANTHROPIC_HEADER",
    "ANTHROPIC_WORKSPACES",
    "AZURE_METERS",
    "AZURE_OPENAI_ACCOUNTS",
    "BEDROCK_RATES_PER_1K",
    "BEDROCK_STREAMS",
    "CUR2_HEADER",
    "DEMO_PROJECTS",
    "FOCUS_HEADER",
    "HEADER",
    "AnthropicWorkspace",
    "AzureMeter",
    "AzureOpenAIAccount",
    "BedrockStream",
    "DailyUsage",
    "DemoProject",
    "DemoStream",
    "UsageRow",
    "anthropic_export_filename",
    "cur2_export_filename",
    "demo_allocations",
    "export_filename",
    "focus_export_filename",
    "generate_usage_rows",
    "model_shares",
    "month_spans",
    "release_date",
    "series_start",
    "write_anthropic_token_exports",
    "write_bedrock_cur2_exports",
    "write_focus_exports",
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
    incident_on: date | None = None  # a day the project's traffic jumps (a retry loop, a runaway job)...
    incident_factor: float = 1.0  # ...by this factor, for that day only

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


def _adoption(released: date | None, day: date, lag_days: int) -> float:
    """How far a model released on ``released`` has been adopted on ``day``: 0 before release (and a lag), then 1."""
    if released is None:
        return 1.0
    age = (day - released).days
    if age < 0:
        return 0.0
    return min(1.0, max(0.0, (age - lag_days) / ADOPTION_RAMP_DAYS))


def _release_shares(releases: Sequence[date | None], day: date, lag_days: int) -> list[float]:
    """Traffic share on ``day`` of each model of an adoption chain, given the models' release dates.

    Newer models take over from older ones, which keep a residue; a model not yet released has 0.
    All zeros when no model of the chain exists on that day.
    """
    adoption = [_adoption(released, day, lag_days) for released in releases]
    live = [released is None or released <= day for released in releases]
    if not any(live):
        return [0.0] * len(releases)
    # The first model that exists on that day is the chain's original one: fully adopted.
    adoption[live.index(True)] = 1.0
    weights: list[float] = []
    for index, weight in enumerate(adoption):
        for newer in adoption[index + 1 :]:
            weight *= 1.0 - (1.0 - LEGACY_SHARE) * newer
        weights.append(weight)
    total = sum(weight for weight in weights if weight > 0)
    return [weight / total if weight > 0 else 0.0 for weight in weights]


def model_shares(models: Sequence[str], day: date, *, lag_days: int = ADOPTION_LAG_DAYS) -> dict[str, float]:
    """Traffic share of each model on ``day``; newer models take over, older ones keep a residue."""
    shares = _release_shares([release_date(model) for model in models], day, lag_days)
    return {model: share for model, share in zip(models, shares, strict=True) if share > 0}


def _calendar_factor(weekend_factor: float, day: date) -> float:
    factor = weekend_factor if day.weekday() >= 5 else 1.0
    return factor * HOLIDAY_FACTORS.get((day.month, day.day), 1.0)


def _noise(rng: random.Random, sigma: float) -> float:
    """A mean-one lognormal multiplier."""
    return rng.lognormvariate(-sigma * sigma / 2, sigma)


class _UsageShape(Protocol):
    """What an OpenAI project and another provider's stream share: the shape of their daily volume and mix."""

    @property
    def base_daily_tokens(self) -> int: ...
    @property
    def monthly_growth(self) -> float: ...
    @property
    def launch_day(self) -> int | None: ...
    @property
    def launch_factor(self) -> float: ...
    @property
    def weekend_factor(self) -> float: ...
    @property
    def cached_share(self) -> float: ...
    @property
    def cache_write_share(self) -> float: ...


def _daily_volume(shape: _UsageShape, rng: random.Random, day: date, offset: int) -> float:
    """Input + output tokens on ``day`` (``offset`` days into the series): growth, launch step, calendar, noise."""
    volume = shape.base_daily_tokens * (1.0 + shape.monthly_growth) ** (offset / DAYS_PER_MONTH)
    if shape.launch_day is not None and offset >= shape.launch_day:
        volume *= shape.launch_factor
    volume *= _calendar_factor(shape.weekend_factor, day) * _noise(rng, DAILY_NOISE_SIGMA)
    return volume


@dataclass(frozen=True)
class _TokenSplit:
    """A noisy share of a day's volume split by token type; ``input_tokens`` includes cache reads and writes."""

    total: float
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int


def _split_tokens(
    rng: random.Random, volume: float, shape: _UsageShape, *, output_ratio: float, max_cached_share: float
) -> _TokenSplit:
    """Split ``volume`` (times noise) into input and output by ``output_ratio``, and input into cache reads/writes."""
    total = volume * _noise(rng, SPLIT_NOISE_SIGMA)
    ratio = output_ratio * _noise(rng, SPLIT_NOISE_SIGMA)
    input_tokens = round(total / (1.0 + ratio))
    output_tokens = round(total - input_tokens)
    cached = round(input_tokens * min(max_cached_share, shape.cached_share * _noise(rng, SPLIT_NOISE_SIGMA)))
    cache_write = round(input_tokens * shape.cache_write_share * _noise(rng, SPLIT_NOISE_SIGMA))
    cache_write = min(cache_write, input_tokens - cached)
    return _TokenSplit(total, input_tokens, output_tokens, cached, cache_write)


def _project_rows(project: DemoProject, day: date, offset: int, seed: int) -> Iterator[UsageRow]:
    rng = random.Random(f"{seed}:{project.project_id}:{day.isoformat()}")
    shares = model_shares(project.models, day, lag_days=project.adoption_lag_days)
    volume = _daily_volume(project, rng, day, offset)
    if project.incident_on == day:
        volume *= project.incident_factor

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
                split = _split_tokens(
                    rng,
                    volume * model_share * key_share * batch_share,
                    project,
                    output_ratio=output_ratio,
                    max_cached_share=0.9,
                )
                requests = round(split.total / project.tokens_per_request * _noise(rng, SPLIT_NOISE_SIGMA))
                if split.input_tokens <= 0 and split.output_tokens <= 0:
                    continue
                yield UsageRow(
                    day=day,
                    project_id=project.project_id,
                    user_id=project.user_id,
                    api_key_id=project.api_key_id(key_suffix),
                    model=model,
                    batch=batch,
                    num_model_requests=max(1, requests),
                    input_tokens=split.input_tokens,
                    output_tokens=split.output_tokens,
                    input_cached_tokens=split.cached_tokens,
                    input_cache_write_tokens=split.cache_write_tokens,
                )


def generate_usage_rows(
    start: date, end: date, *, seed: int = 7, projects: Sequence[DemoProject] = DEMO_PROJECTS
) -> Iterator[UsageRow]:
    """Every daily row from ``start`` to ``end`` inclusive, ordered by day, then project."""
    for offset, day in _series_days(start, end):
        for project in projects:
            yield from _project_rows(project, day, offset, seed)


def _series_days(start: date, end: date) -> Iterator[tuple[int, date]]:
    """(offset from ``start``, day) for every day of ``start..end`` inclusive."""
    for offset in range((end - start).days + 1):
        yield offset, start + timedelta(days=offset)


def series_start(end: date, months: int) -> date:
    """First day of the series: the first of the month ``months - 1`` months before ``end``'s month."""
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    return _add_months(date(end.year, end.month, 1), -(months - 1))


# The CSV rows of one month, given that month's (offset into the series, day) pairs.
_MonthRows = Callable[[Sequence[tuple[int, date]]], Iterable[list[str]]]


def _day_by_day(rows_for_day: Callable[[int, date], Iterable[list[str]]]) -> _MonthRows:
    """A month's rows as the rows of each of its days in turn (``rows_for_day`` takes the offset and the day)."""
    return lambda days: (row for offset, day in days for row in rows_for_day(offset, day))


def _write_monthly_exports(
    directory: Path,
    *,
    end: date,
    months: int,
    header: Sequence[str],
    filename: Callable[[date, date], str],
    month_rows: _MonthRows,
) -> list[Path]:
    """Write one CSV per calendar month of the series (header, then that month's rows); return the paths by month.

    The months are those of ``write_openai_usage_exports``; ``filename`` gets the first and last day a file covers.
    """
    start = series_start(end, months)
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for first, last in month_spans(start, end):
        days = [((day - start).days, day) for _, day in _series_days(first, last)]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(month_rows(days))
        path = directory / filename(first, last)
        path.write_bytes(buffer.getvalue().encode("utf-8"))
        paths.append(path)
    return paths


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
    return _write_monthly_exports(
        directory,
        end=end,
        months=months,
        header=HEADER,
        filename=export_filename,
        month_rows=_day_by_day(lambda offset, day: _openai_day_rows(projects, day, offset, seed)),
    )


def _openai_day_rows(projects: Sequence[DemoProject], day: date, offset: int, seed: int) -> Iterator[list[str]]:
    for project in projects:
        for row in _project_rows(project, day, offset, seed):
            yield row.as_csv_fields()


# --- Other providers: Anthropic Console, AWS CUR 2.0 (Bedrock), FOCUS (Azure OpenAI) --------------


@dataclass(frozen=True)
class DemoStream:
    """One usage stream of another provider (a workspace, an account, a subscription) and its shape.

    ``models`` lists (model as the export names it, release date) in adoption order, with the same
    takeover rules as the OpenAI projects. ``side_models`` lists (model, release date, share): models
    that take a fixed share of the traffic once adopted, next to the chain (a small model for
    background work). ``retirements`` lists (model, date) of models the provider switched off: from
    that day their share goes to the other models. ``key`` seeds the stream's random draws.
    """

    key: str
    team: str
    models: tuple[tuple[str, date], ...]
    base_daily_tokens: int
    monthly_growth: float
    output_ratio: float
    cached_share: float = 0.0  # cache reads as a share of all input tokens
    cache_write_share: float = 0.0  # cache writes as a share of all input tokens
    weekend_factor: float = 0.42
    launch_day: int | None = None
    launch_factor: float = 1.0
    adoption_lag_days: int = ADOPTION_LAG_DAYS
    side_models: tuple[tuple[str, date, float], ...] = ()
    retirements: tuple[tuple[str, date], ...] = ()


@dataclass(frozen=True)
class DailyUsage:
    """One stream's usage of one model on one day, by token type (``input_tokens`` is uncached input)."""

    day: date
    model: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cached_tokens + self.cache_write_tokens


def _stream_shares(stream: DemoStream, day: date) -> dict[str, float]:
    lag = stream.adoption_lag_days
    side = {
        model: share * _adoption(released, day, lag)
        for model, released, share in stream.side_models
        if _adoption(released, day, lag) > 0
    }
    rest = 1.0 - sum(side.values())
    chain = _release_shares([released for _, released in stream.models], day, lag)
    shares = {model: share * rest for (model, _), share in zip(stream.models, chain, strict=True) if share > 0}
    shares.update(side)
    retired = {model for model, retired_on in stream.retirements if retired_on <= day}
    live = {model: share for model, share in shares.items() if model not in retired}
    total = sum(live.values())
    return {model: share / total for model, share in live.items()} if total > 0 else {}


def _stream_usage(stream: DemoStream, day: date, offset: int, seed: int) -> Iterator[DailyUsage]:
    rng = random.Random(f"{seed}:{stream.key}:{day.isoformat()}")
    volume = _daily_volume(stream, rng, day, offset)
    for model, share in _stream_shares(stream, day).items():
        split = _split_tokens(rng, volume * share, stream, output_ratio=stream.output_ratio, max_cached_share=0.95)
        if split.input_tokens <= 0 and split.output_tokens <= 0:
            continue
        yield DailyUsage(
            day=day,
            model=model,
            input_tokens=split.input_tokens - split.cached_tokens - split.cache_write_tokens,
            output_tokens=split.output_tokens,
            cached_tokens=split.cached_tokens,
            cache_write_tokens=split.cache_write_tokens,
        )


def _decimal_text(value: Decimal) -> str:
    """A plain decimal (no exponent, no trailing zeros): ``3.75``, ``0.0001875``, ``0``."""
    text = format(value.quantize(Decimal("1e-10")), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _utc_instant(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


# Anthropic Console token export (reference/export-formats.md section 5).

ANTHROPIC_HEADER: tuple[str, ...] = (
    "usage_date_utc",
    "model_version",
    "api_key",
    "workspace",
    "usage_type",
    "context_window",
    "usage_input_tokens_no_cache",
    "usage_input_tokens_cache_write_5m",
    "usage_input_tokens_cache_write_1h",
    "usage_input_tokens_cache_read",
    "usage_output_tokens",
    "web_search_count",
    "inference_geo",
    "speed",
)
_CLAUDE_SONNET_CHAIN: tuple[tuple[str, date], ...] = (
    ("claude-3-5-sonnet-20241022", date(2024, 10, 22)),
    ("claude-sonnet-4-20250514", date(2025, 5, 14)),
    ("claude-sonnet-4-5-20250929", date(2025, 9, 29)),
)
_CLAUDE_RETIREMENTS: tuple[tuple[str, date], ...] = (("claude-3-5-sonnet-20241022", date(2025, 10, 22)),)


@dataclass(frozen=True)
class AnthropicWorkspace:
    """An Anthropic Console workspace of the demo organisation, its API key name and its usage."""

    workspace: str
    api_key: str
    usage: DemoStream
    cache_write_1h_share: float = 0.0  # share of cache writes with the 1-hour TTL (the rest is 5 minutes)
    web_searches_per_million_tokens: float = 0.0


ANTHROPIC_WORKSPACES: tuple[AnthropicWorkspace, ...] = (
    AnthropicWorkspace(
        workspace="Support Assistant",
        api_key="support-prod",
        usage=DemoStream(
            key="anthropic:support-assistant",
            team="Support",
            models=_CLAUDE_SONNET_CHAIN,
            base_daily_tokens=3_500_000,
            monthly_growth=0.05,
            output_ratio=0.12,
            cached_share=0.55,
            cache_write_share=0.04,
            weekend_factor=0.55,
            adoption_lag_days=21,
            retirements=_CLAUDE_RETIREMENTS,
        ),
        web_searches_per_million_tokens=40.0,
    ),
    AnthropicWorkspace(
        workspace="Claude Code",
        api_key="eng-tools",
        usage=DemoStream(
            key="anthropic:claude-code",
            team="Engineering",
            models=_CLAUDE_SONNET_CHAIN,
            base_daily_tokens=5_500_000,
            monthly_growth=0.08,
            output_ratio=0.04,
            cached_share=0.86,
            cache_write_share=0.05,
            weekend_factor=0.18,
            launch_day=170,  # the tool was rolled out to the whole engineering department
            launch_factor=1.6,
            adoption_lag_days=3,
            side_models=(("claude-haiku-4-5-20251001", date(2025, 10, 1), 0.2),),
            retirements=_CLAUDE_RETIREMENTS,
        ),
        cache_write_1h_share=0.15,
    ),
)


def anthropic_export_filename(first: date) -> str:
    """The Console's name for a month's token export: ``claude_api_tokens_2026_03.csv``."""
    return f"claude_api_tokens_{first.year}_{first.month:02d}.csv"


def _anthropic_row(workspace: AnthropicWorkspace, usage: DailyUsage, rng: random.Random) -> list[str]:
    cache_write_1h = round(usage.cache_write_tokens * workspace.cache_write_1h_share)
    web_searches = round(
        usage.total_tokens / 1_000_000 * workspace.web_searches_per_million_tokens * _noise(rng, SPLIT_NOISE_SIGMA)
    )
    return [
        usage.day.isoformat(),
        usage.model,
        workspace.api_key,
        workspace.workspace,
        "standard",
        "≤ 200k",
        str(usage.input_tokens),
        str(usage.cache_write_tokens - cache_write_1h),
        str(cache_write_1h),
        str(usage.cached_tokens),
        str(usage.output_tokens),
        str(web_searches),
        "not_available",
        "",
    ]


def write_anthropic_token_exports(
    directory: Path,
    *,
    end: date,
    months: int = 18,
    seed: int = 7,
    workspaces: Sequence[AnthropicWorkspace] = ANTHROPIC_WORKSPACES,
) -> list[Path]:
    """Write one Anthropic Console token export (current header) per calendar month; return the paths.

    Daily rows per workspace and model, months as in ``write_openai_usage_exports``.
    """
    return _write_monthly_exports(
        directory,
        end=end,
        months=months,
        header=ANTHROPIC_HEADER,
        filename=lambda first, _last: anthropic_export_filename(first),
        month_rows=_day_by_day(lambda offset, day: _anthropic_day_rows(workspaces, day, offset, seed)),
    )


def _anthropic_day_rows(
    workspaces: Sequence[AnthropicWorkspace], day: date, offset: int, seed: int
) -> Iterator[list[str]]:
    for workspace in workspaces:
        rng = random.Random(f"{seed}:{workspace.usage.key}:searches:{day.isoformat()}")
        for usage in _stream_usage(workspace.usage, day, offset, seed):
            yield _anthropic_row(workspace, usage, rng)


# AWS Cost and Usage Report 2.0 with Amazon Bedrock (reference/export-formats.md section 8).

CUR2_HEADER: tuple[str, ...] = (
    "identity_line_item_id",
    "identity_time_interval",
    "bill_bill_type",
    "bill_billing_entity",
    "bill_payer_account_id",
    "bill_billing_period_start_date",
    "bill_billing_period_end_date",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_resource_id",
    "line_item_usage_amount",
    "line_item_currency_code",
    "line_item_unblended_rate",
    "line_item_unblended_cost",
    "line_item_line_item_description",
    "product_product_name",
    "product_region_code",
    "product_servicecode",
    "pricing_unit",
    "pricing_public_on_demand_rate",
    "pricing_public_on_demand_cost",
    "resource_tags",
)
AWS_PAYER_ACCOUNT = "111122223333"
AWS_ANALYTICS_ACCOUNT = "210987654321"
AWS_REGION = "us-east-1"
AWS_TAX_RATE = Decimal("0.06")
_AWS_TAGS = '{"user_team":"analytics","user_env":"prod"}'
# Bedrock on-demand rates in USD per 1K tokens (us-east-1), by billing name and token type.
BEDROCK_RATES_PER_1K: dict[str, dict[str, Decimal]] = {
    "Claude3.7Sonnet": {
        "input": Decimal("0.003"),
        "output": Decimal("0.015"),
        "cached_input": Decimal("0.0003"),
        "cache_write": Decimal("0.00375"),
    },
    "Claude4.5Sonnet": {
        "input": Decimal("0.003"),
        "output": Decimal("0.015"),
        "cached_input": Decimal("0.0003"),
        "cache_write": Decimal("0.00375"),
    },
    "NovaLite": {
        "input": Decimal("0.00006"),
        "output": Decimal("0.00024"),
        "cached_input": Decimal("0.000015"),
        "cache_write": Decimal("0"),
    },
}
_BEDROCK_USAGE_SUFFIX = {
    "input": ("input-tokens", "input"),
    "output": ("output-tokens", "output"),
    "cached_input": ("cache-read-input-token-count", "cache read input"),
    "cache_write": ("cache-write-input-token-count", "cache write input"),
}


@dataclass(frozen=True)
class BedrockStream:
    """Bedrock usage of the analytics AWS account; ``resource_id`` is its application inference profile, if any."""

    usage: DemoStream
    resource_id: str = ""


BEDROCK_STREAMS: tuple[BedrockStream, ...] = (
    BedrockStream(
        usage=DemoStream(
            key="bedrock:analytics-claude",
            team="Analytics",
            models=(("Claude3.7Sonnet", date(2025, 2, 24)), ("Claude4.5Sonnet", date(2025, 9, 29))),
            base_daily_tokens=5_000_000,
            monthly_growth=0.06,
            output_ratio=0.18,
            cached_share=0.3,
            cache_write_share=0.03,
            weekend_factor=0.5,
            adoption_lag_days=30,
        ),
        resource_id=(
            f"arn:aws:bedrock:{AWS_REGION}:{AWS_ANALYTICS_ACCOUNT}:application-inference-profile/k3x9q2m7v1ab"
        ),
    ),
    BedrockStream(
        usage=DemoStream(
            key="bedrock:analytics-nova",
            team="Analytics",
            models=(("NovaLite", date(2024, 12, 3)),),
            base_daily_tokens=8_000_000,
            monthly_growth=0.04,
            output_ratio=0.08,
            cached_share=0.1,
            weekend_factor=0.85,  # a nightly classification pipeline: it runs every day of the week
        ),
    ),
)


@dataclass(frozen=True)
class _CurLine:
    """One CUR 2.0 line item before it is written."""

    line_item_type: str
    start: date
    end: date  # exclusive
    product_code: str
    usage_type: str
    operation: str
    resource_id: str
    amount: Decimal
    rate: Decimal | None
    cost: Decimal
    description: str
    product_name: str
    pricing_unit: str
    tags: str


def cur2_export_filename(first: date) -> str:
    return f"aws_cur2_{first.year}_{first.month:02d}.csv"


def _line_item_id(seed: int, *parts: object) -> str:
    """A stable 52-character id in the style of CUR's ``identity_line_item_id``."""
    digest = hashlib.sha256(":".join(str(part) for part in (seed, *parts)).encode()).digest()
    return base64.b32encode(digest).decode().lower()[:52]


def _cur_fields(line: _CurLine, *, first: date, next_first: date, seed: int) -> list[str]:
    return [
        _line_item_id(seed, line.start, line.line_item_type, line.usage_type, line.resource_id, line.product_code),
        f"{_utc_instant(line.start)}/{_utc_instant(line.end)}",
        "Anniversary",
        "AWS",
        AWS_PAYER_ACCOUNT,
        _utc_instant(first),
        _utc_instant(next_first),
        AWS_ANALYTICS_ACCOUNT,
        line.line_item_type,
        _utc_instant(line.start),
        _utc_instant(line.end),
        line.product_code,
        line.usage_type,
        line.operation,
        line.resource_id,
        _decimal_text(line.amount),
        "USD",
        "" if line.rate is None else _decimal_text(line.rate),
        _decimal_text(line.cost),
        line.description,
        line.product_name,
        AWS_REGION if line.line_item_type != "Tax" else "",
        line.product_code,
        line.pricing_unit,
        "" if line.rate is None else _decimal_text(line.rate),
        "" if line.line_item_type == "Tax" else _decimal_text(line.cost),
        line.tags,
    ]


def _bedrock_lines(bedrock: BedrockStream, usage: DailyUsage) -> Iterator[_CurLine]:
    counts = {
        "input": usage.input_tokens,
        "output": usage.output_tokens,
        "cached_input": usage.cached_tokens,
        "cache_write": usage.cache_write_tokens,
    }
    for token_type, tokens in counts.items():
        if tokens <= 0:
            continue
        rate = BEDROCK_RATES_PER_1K[usage.model][token_type]
        suffix, words = _BEDROCK_USAGE_SUFFIX[token_type]
        yield _aws_usage_line(
            usage.day,
            ("AmazonBedrock", "Amazon Bedrock"),
            (f"USE1-{usage.model}-{suffix}", "InvokeModelInference", bedrock.resource_id),
            amount=Decimal(tokens) / 1000,  # usage_amount is in the pricing unit, 1K tokens
            rate=rate,
            pricing_unit="1K tokens",
            description=f"${_decimal_text(rate)} per 1K {words} tokens for {usage.model} in US East (N. Virginia)",
        )


def _aws_usage_line(
    day: date,
    product: tuple[str, str],
    usage: tuple[str, str, str],
    *,
    amount: Decimal,
    rate: Decimal,
    pricing_unit: str,
    description: str,
) -> _CurLine:
    """A day's Usage line item of the analytics account, costed at ``rate`` per ``pricing_unit``.

    ``product`` is (product code, product name); ``usage`` is (usage type, operation, resource id).
    """
    product_code, product_name = product
    usage_type, operation, resource_id = usage
    return _CurLine(
        line_item_type="Usage",
        start=day,
        end=day + timedelta(days=1),
        product_code=product_code,
        usage_type=usage_type,
        operation=operation,
        resource_id=resource_id,
        amount=amount,
        rate=rate,
        cost=amount * rate,
        description=description,
        product_name=product_name,
        pricing_unit=pricing_unit,
        tags=_AWS_TAGS,
    )


def _other_aws_lines(day: date, offset: int) -> Iterator[_CurLine]:
    """A data lake bucket and an always-on instance: rows the Bedrock parser skips."""
    stored_gb = Decimal(round(2_400 * 1.03 ** (offset / DAYS_PER_MONTH)))
    days_in_month = (_add_months(date(day.year, day.month, 1), 1) - timedelta(days=1)).day
    yield _aws_usage_line(
        day,
        ("AmazonS3", "Amazon Simple Storage Service"),
        ("USE1-TimedStorage-ByteHrs", "StandardStorage", "tokencast-demo-analytics-lake"),
        amount=(stored_gb / days_in_month).quantize(Decimal("1e-8")),
        rate=Decimal("0.023"),
        pricing_unit="GB-Mo",
        description="$0.023 per GB - first 50 TB / month of storage used",
    )
    yield _aws_usage_line(
        day,
        ("AmazonEC2", "Amazon Elastic Compute Cloud"),
        ("USE1-BoxUsage:m5.2xlarge", "RunInstances", "i-0c4f9a2e7b1d35e68"),
        amount=Decimal(24),
        rate=Decimal("0.384"),
        pricing_unit="Hrs",
        description="$0.384 per On Demand Linux m5.2xlarge Instance Hour",
    )


def _tax_lines(lines: Sequence[_CurLine], first: date, next_first: date) -> Iterator[_CurLine]:
    """One Tax line per product for the month; the Bedrock parser skips them."""
    cost_by_product: dict[str, tuple[str, Decimal]] = {}
    for line in lines:
        name, cost = cost_by_product.get(line.product_code, (line.product_name, Decimal(0)))
        cost_by_product[line.product_code] = (name, cost + line.cost)
    for product_code, (product_name, cost) in cost_by_product.items():
        yield _CurLine(
            line_item_type="Tax",
            start=first,
            end=next_first,
            product_code=product_code,
            usage_type="",
            operation="",
            resource_id="",
            amount=Decimal(1),
            rate=None,
            cost=(cost * AWS_TAX_RATE).quantize(Decimal("1e-8")),
            description="Tax for product code " + product_code,
            product_name=product_name,
            pricing_unit="",
            tags="",
        )


def write_bedrock_cur2_exports(
    directory: Path,
    *,
    end: date,
    months: int = 18,
    seed: int = 7,
    streams: Sequence[BedrockStream] = BEDROCK_STREAMS,
) -> list[Path]:
    """Write one AWS CUR 2.0 CSV per calendar month: daily Bedrock token line items, S3 and EC2, and tax.

    ``line_item_usage_amount`` of token lines is in thousands (``pricing_unit`` ``1K tokens``) and the
    unblended cost is that amount times the on-demand rate.
    """
    return _write_monthly_exports(
        directory,
        end=end,
        months=months,
        header=CUR2_HEADER,
        filename=lambda first, _last: cur2_export_filename(first),
        month_rows=lambda days: _cur2_month_rows(streams, days, seed),
    )


def _cur2_month_rows(streams: Sequence[BedrockStream], days: Sequence[tuple[int, date]], seed: int) -> list[list[str]]:
    """A month's daily line items, then its tax lines, as CUR 2.0 rows."""
    first = date(days[0][1].year, days[0][1].month, 1)
    next_first = _add_months(first, 1)
    lines = [line for offset, day in days for line in _aws_day_lines(streams, day, offset, seed)]
    return [
        _cur_fields(line, first=first, next_first=next_first, seed=seed)
        for line in (*lines, *_tax_lines(lines, first, next_first))
    ]


def _aws_day_lines(streams: Sequence[BedrockStream], day: date, offset: int, seed: int) -> Iterator[_CurLine]:
    for stream in streams:
        for usage in _stream_usage(stream.usage, day, offset, seed):
            yield from _bedrock_lines(stream, usage)
    yield from _other_aws_lines(day, offset)


# FOCUS 1.2 export from Azure Cost Management, with Azure OpenAI (reference/export-formats.md sections 10-11).

FOCUS_HEADER: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
    "x_AccountId",
    "x_AccountName",
    "x_AccountOwnerId",
    "x_AmortizationClass",
    "x_BilledCostInUsd",
    "x_BilledUnitPrice",
    "x_BillingAccountId",
    "x_BillingAccountName",
    "x_BillingExchangeRate",
    "x_BillingExchangeRateDate",
    "x_BillingProfileId",
    "x_BillingProfileName",
    "x_ContractedCostInUsd",
    "x_CostAllocationRuleName",
    "x_CostCenter",
    "x_CustomerId",
    "x_CustomerName",
    "x_EffectiveCostInUsd",
    "x_EffectiveUnitPrice",
    "x_InvoiceSectionId",
    "x_InvoiceSectionName",
    "x_ListCostInUsd",
    "x_PartnerCreditApplied",
    "x_PartnerCreditRate",
    "x_PricingBlockSize",
    "x_PricingCurrency",
    "x_PricingSubcategory",
    "x_PricingUnitDescription",
    "x_PublisherCategory",
    "x_PublisherId",
    "x_ResellerId",
    "x_ResellerName",
    "x_ResourceGroupName",
    "x_ResourceType",
    "x_ServiceModel",
    "x_ServicePeriodEnd",
    "x_ServicePeriodStart",
    "x_SkuDescription",
    "x_SkuDetails",
    "x_SkuIsCreditEligible",
    "x_SkuMeterCategory",
    "x_SkuMeterId",
    "x_SkuMeterName",
    "x_SkuMeterSubcategory",
    "x_SkuOfferId",
    "x_SkuOrderId",
    "x_SkuOrderName",
    "x_SkuPlanName",
    "x_SkuPartNumber",
    "x_SkuRegion",
    "x_SkuServiceFamily",
    "x_SkuTier",
)
AZURE_SUBSCRIPTION_ID = "/subscriptions/6f1c2b7e-3d4a-4e8b-9c1d-2a5b7e9f0c3d"
AZURE_SUBSCRIPTION_NAME = "platform-prod"
AZURE_RESOURCE_GROUP = "rg-platform"
AZURE_BILLING_ACCOUNT = "/providers/Microsoft.Billing/billingAccounts/81234567"
_AZURE_PROVIDERS = f"{AZURE_SUBSCRIPTION_ID}/resourcegroups/{AZURE_RESOURCE_GROUP}/providers"
_AZURE_TAGS = '{"team":"platform","env":"prod"}'


@dataclass(frozen=True)
class AzureMeter:
    """An Azure OpenAI token meter: its name, price in USD per block of tokens and block size."""

    name: str
    unit_price: Decimal
    block: int
    subcategory: str = "Azure OpenAI"

    @property
    def unit_description(self) -> str:
        return "1M" if self.block == 1_000_000 else "1K"


# Global-deployment meters of the Azure retail price list, by model and token type.
AZURE_METERS: dict[str, dict[str, AzureMeter]] = {
    "gpt 4o mini 0718": {
        "input": AzureMeter("gpt 4o mini 0718 Inp glbl Tokens", Decimal("0.00015"), 1000),
        "output": AzureMeter("gpt 4o mini 0718 Outp glbl Tokens", Decimal("0.0006"), 1000),
        "cached_input": AzureMeter("gpt 4o mini 0718 cached Inp glbl Tokens", Decimal("0.000075"), 1000),
    },
    "gpt 4.1 mini": {
        "input": AzureMeter("gpt 4.1 mini Inp glbl Tokens", Decimal("0.0004"), 1000),
        "output": AzureMeter("gpt 4.1 mini Outp glbl Tokens", Decimal("0.0016"), 1000),
        "cached_input": AzureMeter("gpt 4.1 mini cached Inp glbl Tokens", Decimal("0.0001"), 1000),
    },
    "GPT 5 Mini": {
        "input": AzureMeter("GPT 5 Mini Inpt Glbl 1M Tokens", Decimal("0.25"), 1_000_000, "Azure OpenAI GPT5"),
        "output": AzureMeter("GPT 5 Mini outpt Glbl 1M Tokens", Decimal("2.0"), 1_000_000, "Azure OpenAI GPT5"),
        "cached_input": AzureMeter(
            "GPT 5 Mini Inpt cchd Glbl 1M Tokens", Decimal("0.025"), 1_000_000, "Azure OpenAI GPT5"
        ),
    },
}


@dataclass(frozen=True)
class AzureOpenAIAccount:
    """An Azure OpenAI resource in the platform subscription and its usage (models are AZURE_METERS keys)."""

    name: str
    region: str
    region_name: str
    usage: DemoStream


AZURE_OPENAI_ACCOUNTS: tuple[AzureOpenAIAccount, ...] = (
    AzureOpenAIAccount(
        name="aoai-platform-eus2",
        region="eastus2",
        region_name="East US 2",
        usage=DemoStream(
            key="azure:platform",
            team="Platform",
            models=(
                ("gpt 4o mini 0718", date(2024, 7, 18)),
                ("gpt 4.1 mini", date(2025, 4, 14)),
                ("GPT 5 Mini", date(2025, 8, 7)),
            ),
            base_daily_tokens=9_000_000,
            monthly_growth=0.05,
            output_ratio=0.3,
            cached_share=0.25,
            weekend_factor=0.45,
            launch_day=300,
            launch_factor=1.3,
            adoption_lag_days=45,
        ),
    ),
)


def focus_export_filename(first: date) -> str:
    return f"azure_focus_{first.year}_{first.month:02d}.csv"


@dataclass(frozen=True)
class _FocusCharge:
    """One daily Azure charge before it is written as a FOCUS row."""

    day: date
    meter: str
    meter_category: str
    meter_subcategory: str
    service: tuple[str, str, str]  # ServiceCategory, ServiceName, ServiceSubcategory
    resource: tuple[str, str]  # ResourceType and the path under the resource group's providers
    region: tuple[str, str]  # RegionId, RegionName
    consumed: Decimal
    consumed_unit: str
    block: int  # x_PricingBlockSize: PricingQuantity = ConsumedQuantity / block
    block_description: str
    unit_price: Decimal  # USD per block

    @property
    def pricing_quantity(self) -> Decimal:
        return self.consumed / self.block


def _focus_fields(charge: _FocusCharge, *, first: date, next_first: date, invoice_id: str) -> list[str]:
    """The charge as a row in FOCUS_HEADER order; columns Azure leaves empty stay empty."""
    cost = _decimal_text(charge.pricing_quantity * charge.unit_price)
    price = _decimal_text(charge.unit_price)
    category, service_name, subcategory = charge.service
    resource_type, resource_path = charge.resource
    values = {
        "BilledCost": cost,
        "BillingAccountId": AZURE_BILLING_ACCOUNT,
        "BillingAccountName": "Demo Corp",
        "BillingAccountType": "Billing Profile",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": _utc_instant(next_first),
        "BillingPeriodStart": _utc_instant(first),
        "ChargeCategory": "Usage",
        "ChargeDescription": charge.meter,
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": _utc_instant(charge.day + timedelta(days=1)),
        "ChargePeriodStart": _utc_instant(charge.day),
        "ConsumedQuantity": _decimal_text(charge.consumed),
        "ConsumedUnit": charge.consumed_unit,
        "ContractedCost": cost,
        "ContractedUnitPrice": price,
        "EffectiveCost": cost,
        "InvoiceId": invoice_id,
        "InvoiceIssuerName": "Microsoft",
        "ListCost": cost,
        "ListUnitPrice": price,
        "PricingCategory": "Standard",
        "PricingCurrency": "USD",
        "PricingQuantity": _decimal_text(charge.pricing_quantity),
        "PricingUnit": charge.consumed_unit,
        "ProviderName": "Microsoft",
        "PublisherName": "Microsoft",
        "RegionId": charge.region[0],
        "RegionName": charge.region[1],
        "ResourceId": f"{_AZURE_PROVIDERS}/{resource_path}",
        "ResourceName": resource_path.rsplit("/", 1)[-1],
        "ResourceType": resource_type,
        "ServiceCategory": category,
        "ServiceName": service_name,
        "ServiceSubcategory": subcategory,
        "SkuMeter": charge.meter,
        "SubAccountId": AZURE_SUBSCRIPTION_ID,
        "SubAccountName": AZURE_SUBSCRIPTION_NAME,
        "SubAccountType": "Subscription",
        "Tags": _AZURE_TAGS,
        "x_BilledCostInUsd": cost,
        "x_BillingExchangeRate": "1",
        "x_EffectiveCostInUsd": cost,
        "x_EffectiveUnitPrice": price,
        "x_ListCostInUsd": cost,
        "x_PricingBlockSize": str(charge.block),
        "x_PricingCurrency": "USD",
        "x_PricingUnitDescription": charge.block_description,
        "x_ResourceGroupName": AZURE_RESOURCE_GROUP,
        "x_SkuMeterCategory": charge.meter_category,
        "x_SkuMeterName": charge.meter,
        "x_SkuMeterSubcategory": charge.meter_subcategory,
    }
    return [values.get(column, "") for column in FOCUS_HEADER]


def _azure_token_charges(account: AzureOpenAIAccount, usage: DailyUsage) -> Iterator[_FocusCharge]:
    counts = {"input": usage.input_tokens, "output": usage.output_tokens, "cached_input": usage.cached_tokens}
    for token_type, tokens in counts.items():
        if tokens <= 0:
            continue
        meter = AZURE_METERS[usage.model][token_type]
        yield _FocusCharge(
            day=usage.day,
            meter=meter.name,
            meter_category="Foundry Models",
            meter_subcategory=meter.subcategory,
            service=("AI and Machine Learning", "Azure OpenAI", "Generative AI"),
            resource=("Azure AI services", f"microsoft.cognitiveservices/accounts/{account.name}"),
            region=(account.region, account.region_name),
            consumed=Decimal(tokens),
            consumed_unit="Units",
            block=meter.block,
            block_description=meter.unit_description,
            unit_price=meter.unit_price,
        )


def _azure_other_charges(day: date) -> Iterator[_FocusCharge]:
    """A virtual machine and a storage account: rows the FOCUS parser skips as not AI."""
    yield _FocusCharge(
        day=day,
        meter="D4s v5",
        meter_category="Virtual Machines",
        meter_subcategory="Dsv5 Series",
        service=("Compute", "Virtual Machines", "Virtual Machines"),
        resource=("Virtual machine", "microsoft.compute/virtualmachines/vm-platform-gateway"),
        region=("eastus2", "East US 2"),
        consumed=Decimal(24),
        consumed_unit="Hours",
        block=1,
        block_description="1 Hour",
        unit_price=Decimal("0.192"),
    )
    yield _FocusCharge(
        day=day,
        meter="Hot LRS Write Operations",
        meter_category="Storage",
        meter_subcategory="Tiered Block Blob",
        service=("Storage", "Storage Accounts", "Object Storage"),
        resource=("Storage account", "microsoft.storage/storageaccounts/stplatformlogs"),
        region=("eastus2", "East US 2"),
        consumed=Decimal(1_900_000 if day.weekday() < 5 else 1_100_000),
        consumed_unit="Units",
        block=10_000,
        block_description="10K",
        unit_price=Decimal("0.065"),
    )


def write_focus_exports(
    directory: Path,
    *,
    end: date,
    months: int = 18,
    seed: int = 7,
    accounts: Sequence[AzureOpenAIAccount] = AZURE_OPENAI_ACCOUNTS,
) -> list[Path]:
    """Write one Azure FOCUS 1.2 export per calendar month: daily Azure OpenAI token rows and some non-AI rows.

    Token rows are metered as Azure writes them: ``ConsumedQuantity`` in tokens with unit ``Units``,
    ``PricingQuantity`` in blocks of ``x_PricingBlockSize`` tokens, cost = blocks x unit price, in USD.
    """
    return _write_monthly_exports(
        directory,
        end=end,
        months=months,
        header=FOCUS_HEADER,
        filename=lambda first, _last: focus_export_filename(first),
        month_rows=_day_by_day(lambda offset, day: _focus_day_rows(accounts, day, offset, seed)),
    )


def _focus_day_rows(accounts: Sequence[AzureOpenAIAccount], day: date, offset: int, seed: int) -> list[list[str]]:
    first = date(day.year, day.month, 1)
    next_first = _add_months(first, 1)
    invoice_id = f"G0{_line_item_id(seed, 'invoice', first)[:8].upper()}"
    charges = [
        charge
        for account in accounts
        for usage in _stream_usage(account.usage, day, offset, seed)
        for charge in _azure_token_charges(account, usage)
    ]
    charges += _azure_other_charges(day)
    return [_focus_fields(charge, first=first, next_first=next_first, invoice_id=invoice_id) for charge in charges]


def demo_allocations() -> list[tuple[str, str, str]]:
    """(dimension, value, team) for each non-OpenAI source, so its ledger rows land on the right team.

    Dimensions are the ledger fields the parsers fill: the Anthropic workspace, the AWS usage account
    (CUR ``line_item_usage_account_id``) and the Azure subscription (FOCUS ``SubAccountId``).
    """
    allocations = [("workspace", workspace.workspace, workspace.usage.team) for workspace in ANTHROPIC_WORKSPACES]
    allocations += [("account", AWS_ANALYTICS_ACCOUNT, stream.usage.team) for stream in BEDROCK_STREAMS]
    allocations += [("account", AZURE_SUBSCRIPTION_ID, account.usage.team) for account in AZURE_OPENAI_ACCOUNTS]
    return list(dict.fromkeys(allocations))
