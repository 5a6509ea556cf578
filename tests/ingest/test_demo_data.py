"""Demo exports: deterministic, schema-exact, arithmetically consistent and realistic.

The OpenAI usage exports are checked cell by cell; the Anthropic, AWS CUR 2.0 and FOCUS exports are
checked through the parsers that ingest them, the way a user's files are read.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.demo_data import (
    ANTHROPIC_HEADER,
    AWS_ANALYTICS_ACCOUNT,
    AZURE_METERS,
    AZURE_SUBSCRIPTION_ID,
    BEDROCK_RATES_PER_1K,
    DEMO_PROJECTS,
    HEADER,
    demo_allocations,
    generate_usage_rows,
    model_shares,
    release_date,
    series_start,
    write_anthropic_token_exports,
    write_bedrock_cur2_exports,
    write_focus_exports,
    write_openai_usage_exports,
)
from ingest.parsers import CanonicalRecord, ParseStats, detect_format, parse_export

END = date(2026, 6, 30)
MONTHS = 18
EXPECTED_HEADER = (
    "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,api_key_id,model,batch,"
    "service_tier,compute_units,input_tokens,output_tokens,input_cached_tokens,input_cache_write_tokens,"
    "input_uncached_tokens,input_text_tokens,output_text_tokens,input_cached_text_tokens,input_audio_tokens,"
    "input_cached_audio_tokens,output_audio_tokens,input_image_tokens,input_cached_image_tokens,output_image_tokens"
)
FILENAME = re.compile(r"^completions_usage_(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})\.csv$")
COUNT = re.compile(r"^\d+\.0$")


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_openai_usage_exports(tmp_path_factory.mktemp("demo"), end=END, months=MONTHS)


@pytest.fixture(scope="module")
def rows(exports: list[Path]) -> list[dict[str, str]]:
    result: list[dict[str, str]] = []
    for path in exports:
        with path.open(newline="", encoding="utf-8") as handle:
            result.extend(csv.DictReader(handle))
    return result


def _tokens(row: dict[str, str]) -> int:
    return int(float(row["input_tokens"])) + int(float(row["output_tokens"]))


def _daily_totals(rows: list[dict[str, str]]) -> dict[date, int]:
    totals: dict[date, int] = defaultdict(int)
    for row in rows:
        totals[datetime.fromisoformat(row["start_time_iso"]).date()] += _tokens(row)
    return totals


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    first = write_openai_usage_exports(tmp_path / "a", end=END, months=3, seed=11)
    second = write_openai_usage_exports(tmp_path / "b", end=END, months=3, seed=11)
    other = write_openai_usage_exports(tmp_path / "c", end=END, months=3, seed=12)
    assert [path.name for path in first] == [path.name for path in second] == [path.name for path in other]
    assert [path.read_bytes() for path in first] == [path.read_bytes() for path in second]
    assert [path.read_bytes() for path in first] != [path.read_bytes() for path in other]


def test_header_is_exactly_the_dashboard_header(exports: list[Path]) -> None:
    assert ",".join(HEADER) == EXPECTED_HEADER
    for path in exports:
        assert path.read_text(encoding="utf-8").split("\n", 1)[0] == EXPECTED_HEADER


def test_one_file_per_calendar_month_named_after_its_days(exports: list[Path]) -> None:
    assert len(exports) == MONTHS
    assert exports == sorted(exports)
    months = []
    for path in exports:
        match = FILENAME.match(path.name)
        assert match, path.name
        first, last = (date.fromisoformat(part) for part in match.groups())
        assert first.day == 1
        assert (first.year, first.month) == (last.year, last.month)
        months.append((first.year, first.month))
        with path.open(newline="", encoding="utf-8") as handle:
            days = {datetime.fromisoformat(row["start_time_iso"]).date() for row in csv.DictReader(handle)}
        assert min(days) == first
        assert max(days) == last
    assert months[0] == (2025, 1)
    assert months[-1] == (2026, 6)
    assert len(set(months)) == MONTHS


def test_partial_last_month_ends_at_end_date(tmp_path: Path) -> None:
    paths = write_openai_usage_exports(tmp_path, end=date(2026, 3, 10), months=2)
    assert [path.name for path in paths] == [
        "completions_usage_2026-02-01_2026-02-28.csv",
        "completions_usage_2026-03-01_2026-03-10.csv",
    ]


def test_months_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_openai_usage_exports(tmp_path, end=END, months=0)


def test_rows_follow_the_export_format_and_token_arithmetic(rows: list[dict[str, str]]) -> None:
    assert rows
    for row in rows:
        start = int(row["start_time"])
        end = int(row["end_time"])
        assert end - start == 86_400
        assert start % 86_400 == 0
        assert datetime.fromisoformat(row["start_time_iso"]) == datetime.fromtimestamp(start, tz=UTC)
        assert datetime.fromisoformat(row["end_time_iso"]) == datetime.fromtimestamp(end, tz=UTC)
        assert row["start_time_iso"].endswith("+00:00")
        assert row["batch"] in {"True", "False"}
        assert row["compute_units"] == ""
        assert row["service_tier"] == "default"
        assert row["project_id"].startswith("proj_")
        assert row["api_key_id"].startswith("key_")
        assert row["user_id"].startswith("user-")
        for column in (*HEADER[12:], "num_model_requests"):
            assert COUNT.match(row[column]), (column, row[column])
        count = {column: int(float(row[column])) for column in (*HEADER[12:], "num_model_requests")}
        assert count["num_model_requests"] >= 1
        assert count["input_tokens"] == (
            count["input_uncached_tokens"] + count["input_cached_tokens"] + count["input_cache_write_tokens"]
        )
        assert count["input_uncached_tokens"] >= 0
        assert count["input_text_tokens"] == count["input_tokens"]
        assert count["output_text_tokens"] == count["output_tokens"]
        assert count["input_cached_text_tokens"] == count["input_cached_tokens"]
        for column in HEADER[20:]:
            assert count[column] == 0


def test_models_only_appear_after_their_release(rows: list[dict[str, str]]) -> None:
    models = set()
    for row in rows:
        released = release_date(row["model"])
        assert released is not None
        assert datetime.fromisoformat(row["start_time_iso"]).date() >= released
        models.add(row["model"])
    assert {"gpt-4.1-mini-2025-04-14", "gpt-5-mini-2025-08-07", "o4-mini-2025-04-16"} <= models


def test_newer_models_take_over_gradually() -> None:
    models = ("gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14")
    assert model_shares(models, date(2025, 4, 1)) == {"gpt-4o-mini-2024-07-18": 1.0}
    later = model_shares(models, date(2025, 12, 1))
    assert later["gpt-4.1-mini-2025-04-14"] > later["gpt-4o-mini-2024-07-18"] > 0
    assert sum(later.values()) == pytest.approx(1.0)
    assert model_shares(models, date(2024, 1, 1)) == {}


def test_weekends_are_quieter_than_weekdays(rows: list[dict[str, str]]) -> None:
    totals = _daily_totals(rows)
    weekday = [total for day, total in totals.items() if day.weekday() < 5]
    weekend = [total for day, total in totals.items() if day.weekday() >= 5]
    ratio = (sum(weekend) / len(weekend)) / (sum(weekday) / len(weekday))
    assert 0.3 < ratio < 0.6


def test_usage_grows_from_first_to_last_month(rows: list[dict[str, str]]) -> None:
    monthly: dict[tuple[int, int], int] = defaultdict(int)
    for day, total in _daily_totals(rows).items():
        monthly[(day.year, day.month)] += total
    ordered = [monthly[month] for month in sorted(monthly)]
    assert ordered[-1] > ordered[0] * 1.5


def test_holidays_dip(rows: list[dict[str, str]]) -> None:
    totals = _daily_totals(rows)
    christmas = totals[date(2025, 12, 25)]
    # Compare with the same weekday one and two weeks earlier.
    assert christmas < 0.6 * min(totals[date(2025, 12, 18)], totals[date(2025, 12, 11)])


def test_volumes_and_token_mix_are_plausible(rows: list[dict[str, str]]) -> None:
    totals = _daily_totals(rows)
    weekday = [total for day, total in totals.items() if day.weekday() < 5]
    assert min(weekday) > 10_000_000
    assert max(totals.values()) < 400_000_000
    by_project: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        sums = by_project[row["project_id"]]
        sums[0] += int(float(row["input_tokens"]))
        sums[1] += int(float(row["output_tokens"]))
        sums[2] += int(float(row["input_cached_tokens"]))
        sums[3] += int(float(row["input_cache_write_tokens"]))
    assert set(by_project) == {project.project_id for project in DEMO_PROJECTS}
    for input_tokens, output_tokens, cached, cache_write in by_project.values():
        assert 0.12 < output_tokens / input_tokens < 0.45
        assert cached / input_tokens < 0.45
        assert cache_write / input_tokens < 0.04
    assert any(cached > 0 for _, _, cached, _ in by_project.values())
    assert any(cache_write > 0 for _, _, _, cache_write in by_project.values())


def test_batch_rows_only_for_analytics(rows: list[dict[str, str]]) -> None:
    batch_projects = {row["project_id"] for row in rows if row["batch"] == "True"}
    analytics = next(project.project_id for project in DEMO_PROJECTS if project.team == "Analytics")
    assert batch_projects == {analytics}


def test_a_launch_steps_usage_up(rows: list[dict[str, str]]) -> None:
    project = next(project for project in DEMO_PROJECTS if project.launch_day is not None)
    start = date(2025, 1, 1)
    daily: dict[int, int] = defaultdict(int)
    for row in rows:
        if row["project_id"] == project.project_id:
            daily[(datetime.fromisoformat(row["start_time_iso"]).date() - start).days] += _tokens(row)
    assert project.launch_day is not None
    before = sum(daily[project.launch_day - offset] for offset in range(1, 29))
    after = sum(daily[project.launch_day + offset] for offset in range(28))
    assert after > 1.3 * before


# --- Anthropic, AWS CUR 2.0 and FOCUS exports, read by their parsers ---------------------------------


@dataclass(frozen=True)
class Kind:
    """One kind of non-OpenAI demo export and what its files must look like once parsed."""

    write: Callable[..., list[Path]]
    format_name: str
    filename: re.Pattern[str]  # groups: year, month
    token_types: frozenset[str]


KINDS = {
    "anthropic": Kind(
        write_anthropic_token_exports,
        "anthropic_tokens",
        re.compile(r"^claude_api_tokens_(\d{4})_(\d{2})\.csv$"),
        frozenset({"input", "output", "cached_input", "cache_write"}),
    ),
    "aws": Kind(
        write_bedrock_cur2_exports,
        "aws_cur2",
        re.compile(r"^aws_cur2_(\d{4})_(\d{2})\.csv$"),
        frozenset({"input", "output", "cached_input", "cache_write"}),
    ),
    "focus": Kind(
        write_focus_exports,
        "focus",
        re.compile(r"^azure_focus_(\d{4})_(\d{2})\.csv$"),
        frozenset({"input", "output", "cached_input"}),  # Azure OpenAI has no cache-write meters
    ),
}


@dataclass
class Parsed:
    paths: list[Path]
    records: list[list[CanonicalRecord]]  # by file
    stats: list[ParseStats]

    @property
    def all_records(self) -> list[CanonicalRecord]:
        return [record for records in self.records for record in records]


def _parse(paths: list[Path], format_name: str) -> Parsed:
    parsed = Parsed(paths=paths, records=[], stats=[])
    for path in paths:
        module = detect_format(path)
        assert format_name == module.NAME, path.name
        stats = ParseStats()
        parsed.records.append(list(parse_export(path, module, stats)))
        parsed.stats.append(stats)
    return parsed


@pytest.fixture(scope="module", params=sorted(KINDS))
def kind_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def parsed_exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Parsed]:
    directory = tmp_path_factory.mktemp("demo-providers")
    return {
        name: _parse(kind.write(directory / name, end=END, months=MONTHS), kind.format_name)
        for name, kind in KINDS.items()
    }


def _token_totals(records: list[CanonicalRecord]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for record in records:
        if record.unit == "tokens":
            totals[record.token_type] += record.quantity
    return dict(totals)


def test_each_file_is_detected_as_its_format_and_parses_without_errors(
    parsed_exports: dict[str, Parsed], kind_name: str
) -> None:
    parsed = parsed_exports[kind_name]
    for path, records, stats in zip(parsed.paths, parsed.records, parsed.stats, strict=True):
        assert records, path.name
        assert stats.rows_read > 0
        # Every row the parser reads is either a record or a deliberate skip (other services, tax).
        assert set(stats.rows_skipped) <= {"not an AI service", "tax"}


def test_each_expected_token_type_has_tokens(parsed_exports: dict[str, Parsed], kind_name: str) -> None:
    totals = _token_totals(parsed_exports[kind_name].all_records)
    assert set(totals) == KINDS[kind_name].token_types
    assert all(quantity > 0 for quantity in totals.values()), totals


def test_one_file_per_calendar_month_holding_that_months_days(
    parsed_exports: dict[str, Parsed], kind_name: str
) -> None:
    parsed = parsed_exports[kind_name]
    assert len(parsed.paths) == MONTHS
    months = []
    for path, records in zip(parsed.paths, parsed.records, strict=True):
        match = KINDS[kind_name].filename.match(path.name)
        assert match, path.name
        year, month = (int(part) for part in match.groups())
        days = {record.period_start.date() for record in records}
        assert {(day.year, day.month) for day in days} == {(year, month)}
        assert min(days).day == 1
        months.append((year, month))
    assert months == sorted(set(months))
    assert months[0] == (2025, 1)
    assert months[-1] == (2026, 6)
    assert max(record.period_start.date() for record in parsed.records[-1]) == END


@pytest.mark.parametrize("name", sorted(KINDS))
def test_provider_exports_are_deterministic_for_a_seed(tmp_path: Path, name: str) -> None:
    write = KINDS[name].write
    first = write(tmp_path / "a", end=END, months=2, seed=11)
    second = write(tmp_path / "b", end=END, months=2, seed=11)
    other = write(tmp_path / "c", end=END, months=2, seed=12)
    assert [path.name for path in first] == [path.name for path in second] == [path.name for path in other]
    assert [path.read_bytes() for path in first] == [path.read_bytes() for path in second]
    assert [path.read_bytes() for path in first] != [path.read_bytes() for path in other]


@pytest.mark.parametrize("name", sorted(KINDS))
def test_provider_exports_end_at_the_end_date(tmp_path: Path, name: str) -> None:
    paths = KINDS[name].write(tmp_path, end=date(2026, 3, 10), months=2)
    parsed = _parse(paths, KINDS[name].format_name)
    assert len(paths) == 2
    assert max(record.period_start.date() for record in parsed.records[-1]) == date(2026, 3, 10)


def test_each_provider_is_a_smaller_but_meaningful_share_than_openai(parsed_exports: dict[str, Parsed]) -> None:
    openai_tokens = sum(
        row.input_tokens + row.output_tokens for row in generate_usage_rows(series_start(END, MONTHS), END)
    )
    for name, parsed in parsed_exports.items():
        share = sum(_token_totals(parsed.all_records).values()) / openai_tokens
        assert 0.1 < share < 0.3, (name, share)


def test_every_new_record_matches_an_allocation_rule(parsed_exports: dict[str, Parsed]) -> None:
    allocations = demo_allocations()
    assert {dimension for dimension, _, _ in allocations} <= {"workspace", "account"}
    for parsed in parsed_exports.values():
        for record in parsed.all_records:
            assert any(getattr(record, dimension) == value for dimension, value, _ in allocations), record


def test_anthropic_export_has_the_current_header_both_workspaces_and_models_by_lifecycle(
    parsed_exports: dict[str, Parsed],
) -> None:
    parsed = parsed_exports["anthropic"]
    assert ",".join(ANTHROPIC_HEADER) == (
        "usage_date_utc,model_version,api_key,workspace,usage_type,context_window,usage_input_tokens_no_cache,"
        "usage_input_tokens_cache_write_5m,usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,"
        "usage_output_tokens,web_search_count,inference_geo,speed"
    )
    for path in parsed.paths:
        assert path.read_text(encoding="utf-8").split("\n", 1)[0] == ",".join(ANTHROPIC_HEADER)
    records = parsed.all_records
    assert {(record.workspace, record.api_key) for record in records} == {
        ("Support Assistant", "support-prod"),
        ("Claude Code", "eng-tools"),
    }
    first_day: dict[str, date] = {}
    for record in records:
        day = record.period_start.date()
        first_day[record.model_raw] = min(first_day.get(record.model_raw, day), day)
    assert set(first_day) == {
        "claude-3-5-sonnet-20241022",
        "claude-sonnet-4-20250514",
        "claude-sonnet-4-5-20250929",
        "claude-haiku-4-5-20251001",
    }
    for model, day in first_day.items():
        assert day >= datetime.strptime(model.rsplit("-", 1)[1], "%Y%m%d").date(), model
    retired = [record for record in records if record.model_raw == "claude-3-5-sonnet-20241022"]
    assert max(record.period_start.date() for record in retired) == date(2025, 10, 21)
    haiku_workspaces = {record.workspace for record in records if record.model_raw.startswith("claude-haiku")}
    assert haiku_workspaces == {"Claude Code"}
    assert any(record.tags.get("cache_write_1h") for record in records)
    web_searches = [record for record in records if record.token_type == "other"]
    assert web_searches
    assert all(record.unit == "requests" for record in web_searches)


def test_claude_code_is_quiet_at_weekends_and_mostly_cache_reads(parsed_exports: dict[str, Parsed]) -> None:
    records = [record for record in parsed_exports["anthropic"].all_records if record.workspace == "Claude Code"]
    daily: dict[date, int] = defaultdict(int)
    for record in records:
        if record.unit == "tokens":
            daily[record.period_start.date()] += record.quantity
    weekday = [total for day, total in daily.items() if day.weekday() < 5]
    weekend = [total for day, total in daily.items() if day.weekday() >= 5]
    assert (sum(weekend) / len(weekend)) < 0.3 * (sum(weekday) / len(weekday))
    totals = _token_totals(records)
    all_input = totals["input"] + totals["cached_input"] + totals["cache_write"]
    assert totals["cached_input"] > 0.75 * all_input


def test_bedrock_lines_are_costed_at_their_rate_and_other_services_and_tax_are_skipped(
    parsed_exports: dict[str, Parsed],
) -> None:
    parsed = parsed_exports["aws"]
    for stats in parsed.stats:
        assert stats.rows_skipped["tax"] == 3  # one per product: Bedrock, S3, EC2
        assert stats.rows_skipped["not an AI service"] > 0
    records = parsed.all_records
    assert {record.model_raw for record in records} == set(BEDROCK_RATES_PER_1K)
    for record in records:
        assert record.provider == "aws_bedrock"
        assert record.account == AWS_ANALYTICS_ACCOUNT
        assert record.tags["user_team"] == "analytics"
        assert record.currency == "USD"
        rate = BEDROCK_RATES_PER_1K[record.model_raw][record.token_type]
        assert record.cost == Decimal(record.quantity) / 1000 * rate


def test_focus_rows_are_azure_openai_meters_costed_per_block_and_non_ai_rows_are_skipped(
    parsed_exports: dict[str, Parsed],
) -> None:
    parsed = parsed_exports["focus"]
    for stats in parsed.stats:
        assert stats.rows_skipped["not an AI service"] > 0
    prices = {meter.name: meter for meters in AZURE_METERS.values() for meter in meters.values()}
    records = parsed.all_records
    assert {record.tags["meter"] for record in records} == set(prices)
    for record in records:
        assert record.provider == "focus:Microsoft"
        assert record.account == AZURE_SUBSCRIPTION_ID
        assert record.currency == "USD"
        assert "tokens_rounded" not in record.tags
        meter = prices[record.tags["meter"]]
        assert record.cost == Decimal(record.quantity) / meter.block * meter.unit_price
