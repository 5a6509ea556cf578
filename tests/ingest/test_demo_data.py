"""Demo OpenAI usage exports: deterministic, schema-exact, arithmetically consistent and realistic."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ingest.demo_data import DEMO_PROJECTS, HEADER, model_shares, release_date, write_openai_usage_exports

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
