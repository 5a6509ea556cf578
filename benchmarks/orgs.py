"""The organizations of the in-domain forecast benchmark (``benchmarks/org_backtest.py``): their exports and cut-offs.

Benchmark data, not runtime code: each organization is a set of monthly export files written with the synthetic
generators of ``ingest/demo_data.py`` (real provider formats, ingested through the real upload path by the
benchmark), the allocation rules that map them to teams, and the month-end cut-offs at which the benchmark
forecasts. Every series is deterministic (fixed seeds, absolute dates), so two runs see the same files.

* ``demo``: exactly the demo organization of ``manage.py demo_setup`` (OpenAI usage, Anthropic Console tokens,
  AWS CUR 2.0 with Bedrock, Azure FOCUS 1.2; its five teams and allocation rules; seed 7, 18 months), with the
  data ending on 2026-10-31 instead of yesterday;
* ``young``: a young program growing 6-15% a month, one OpenAI usage export per month from 2025-06: a workload
  that starts from zero when its model is released (2025-11-13), another with a launch step, migrations to the
  GPT-5 models (released 2025-08-07) and GPT-5.1/5.2 (2025-11-13, 2025-12-11) inside the histories;
* ``mature``: a mature program growing 1-3% a month from 2024-08, five projects, three generations of models
  (GPT-4o -> GPT-4.1 / o4-mini -> GPT-5 / GPT-5.1) adopted during the histories.

Cut-offs are month ends, each followed by three full calendar months of data. Each organization's cut-offs are
split into ``tuning`` (earlier) and ``reported`` (later) ones, chosen so that the tuning cut-offs' three test
months end on or before the first reported cut-off: tuning never sees a reported test month.

Pure Python, no Django (like ``ingest/demo_data.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from ingest.demo_data import (
    DEMO_PROJECTS,
    DemoProject,
    demo_allocations,
    month_spans,
    series_start,
    write_anthropic_token_exports,
    write_bedrock_cur2_exports,
    write_focus_exports,
    write_openai_usage_exports,
)

TEST_MONTHS = 3
SEED = 7  # the demo's seed (demo_setup writes with the writers' default)

# A writer of monthly export files: (directory, end=..., months=...) -> paths, one per month, in month order.
Writer = Callable[..., list[Path]]


@dataclass(frozen=True)
class Source:
    """One kind of export of an organization: a label, its sub-directory and its writer."""

    label: str
    directory: str
    write: Writer


@dataclass(frozen=True)
class MonthFile:
    """One export file and the calendar month (its first day) it covers."""

    month: date
    path: Path


@dataclass(frozen=True)
class OrgShape:
    """An organization of the benchmark: its exports, its allocation rules (dimension, value, team) and cut-offs."""

    name: str
    description: str
    sources: tuple[Source, ...]
    rules: tuple[tuple[str, str, str], ...]
    end: date  # last day of data (a month end)
    months: int  # calendar months of data, ending with ``end``'s month
    tuning: tuple[date, ...]  # cut-offs (month ends) the engine may be tuned on
    reported: tuple[date, ...]  # cut-offs whose numbers are reported
    stress: tuple[date, ...] = ()  # cut-offs followed by events no forecast can see (reported apart)

    @property
    def start(self) -> date:
        return series_start(self.end, self.months)

    @property
    def cutoffs(self) -> tuple[date, ...]:
        return tuple(sorted(self.tuning + self.reported + self.stress))

    def split_of(self, cutoff: date) -> str:
        if cutoff in self.stress:
            return "stress"
        return "tuning" if cutoff in self.tuning else "reported"

    def history_months(self, cutoff: date) -> int:
        """Calendar months of data up to and including the cut-off's month."""
        return (cutoff.year - self.start.year) * 12 + cutoff.month - self.start.month + 1


def add_months(first: date, months: int) -> date:
    """The first day of the month ``months`` after ``first``'s month."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date) -> date:
    return add_months(day.replace(day=1), 1) - timedelta(days=1)


def test_months(cutoff: date) -> list[date]:
    """The first days of the three calendar months after a month-end cut-off."""
    return [add_months(cutoff.replace(day=1), offset) for offset in range(1, TEST_MONTHS + 1)]


def horizon_days(cutoff: date) -> int:
    """Days from the day after the cut-off to the end of its third test month."""
    return (month_end(test_months(cutoff)[-1]) - cutoff).days


def _openai_source(projects: Sequence[DemoProject], seed: int) -> Source:
    def write(directory: Path, *, end: date, months: int) -> list[Path]:
        return write_openai_usage_exports(directory, end=end, months=months, seed=seed, projects=projects)

    return Source("OpenAI usage exports", "openai", write)


def _project_rules(projects: Sequence[DemoProject]) -> tuple[tuple[str, str, str], ...]:
    return tuple(("project", project.project_id, project.team) for project in projects)


# --- demo: the demo organization of demo_setup ------------------------------------------------------------------


def demo_shape() -> OrgShape:
    """demo_setup's organization: its four sources, rules and teams, 18 months through 2026-10-31 (2025-05 on)."""
    return OrgShape(
        name="demo",
        description="the demo organization (demo_setup): 4 providers, 5 teams, 18 months",
        sources=(
            Source("OpenAI usage exports", "openai", write_openai_usage_exports),
            Source("Anthropic Console token exports", "anthropic", write_anthropic_token_exports),
            Source("AWS CUR 2.0 exports (Amazon Bedrock)", "aws", write_bedrock_cur2_exports),
            Source("Azure FOCUS exports (Azure OpenAI)", "azure", write_focus_exports),
        ),
        rules=_project_rules(DEMO_PROJECTS) + tuple(demo_allocations()),
        end=date(2026, 10, 31),
        months=18,
        tuning=(date(2025, 10, 31), date(2026, 1, 31)),  # 6 and 9 months of history
        reported=(date(2026, 4, 30), date(2026, 7, 31)),  # 12 and 15 months
    )


# --- young: a young program growing fast --------------------------------------------------------------------------

YOUNG_PROJECTS: tuple[DemoProject, ...] = (
    DemoProject(
        project_id="proj_assistant",
        team="Assistant",
        models=("gpt-4.1-mini-2025-04-14", "gpt-5-mini-2025-08-07"),
        base_daily_tokens=4_000_000,
        monthly_growth=0.12,
        launch_day=None,
        launch_factor=1.0,
        output_ratio=0.3,
        cached_share=0.3,
        weekend_factor=0.45,
        adoption_lag_days=10,
    ),
    DemoProject(
        project_id="proj_docs_qa",
        team="Docs",
        models=("gpt-4.1-2025-04-14", "gpt-5-2025-08-07", "gpt-5.1-2025-11-13"),
        base_daily_tokens=2_500_000,
        monthly_growth=0.08,
        launch_day=122,  # 2025-10-01: opened to every customer
        launch_factor=1.6,
        output_ratio=0.18,
        cached_share=0.2,
        weekend_factor=0.4,
        adoption_lag_days=20,
    ),
    DemoProject(
        # A workload built on GPT-5.1: no usage at all before the model's release on 2025-11-13.
        project_id="proj_ops_agent",
        team="Operations",
        models=("gpt-5.1-2025-11-13", "gpt-5.2-2025-12-11"),
        base_daily_tokens=2_000_000,
        monthly_growth=0.15,
        launch_day=None,
        launch_factor=1.0,
        output_ratio=0.35,
        cached_share=0.45,
        cache_write_share=0.02,
        weekend_factor=0.7,
        adoption_lag_days=25,
    ),
    DemoProject(
        project_id="proj_eval",
        team="Research",
        models=("o4-mini-2025-04-16",),
        base_daily_tokens=1_200_000,
        monthly_growth=0.06,
        launch_day=None,
        launch_factor=1.0,
        output_ratio=0.25,
        weekend_factor=0.3,
    ),
)


def young_shape() -> OrgShape:
    """A young program: 11 months of OpenAI usage from 2025-06 (cut-offs at 4, 7 and 8 months of history)."""
    return OrgShape(
        name="young",
        description="young program, 4 projects growing 6-15%/month, a launch from zero, migrations",
        sources=(_openai_source(YOUNG_PROJECTS, seed=11),),
        rules=_project_rules(YOUNG_PROJECTS),
        end=date(2026, 4, 30),
        months=11,
        tuning=(),
        reported=(date(2025, 12, 31), date(2026, 1, 31)),  # 7 and 8 months
        # 4 months of history, then the test months bring a launch (x1.6 on 2025-10-01) and a workload that starts
        # from zero (2025-12-08): nothing in the history foretells them, so this cut-off is reported apart.
        stress=(date(2025, 9, 30),),
    )


# --- mature: a mature program growing slowly ------------------------------------------------------------------------

MATURE_PROJECTS: tuple[DemoProject, ...] = (
    DemoProject(
        project_id="proj_support",
        team="Support",
        models=("gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14", "gpt-5-mini-2025-08-07"),
        base_daily_tokens=30_000_000,
        monthly_growth=0.02,
        launch_day=None,
        launch_factor=1.0,
        output_ratio=0.28,
        cached_share=0.35,
        weekend_factor=0.5,
        adoption_lag_days=30,
    ),
    DemoProject(
        project_id="proj_search",
        team="Search",
        models=("gpt-4o-2024-05-13", "gpt-4.1-2025-04-14", "gpt-5.1-2025-11-13"),
        base_daily_tokens=20_000_000,
        monthly_growth=0.015,
        launch_day=None,
        launch_factor=1.0,
        output_ratio=0.15,
        cached_share=0.2,
        weekend_factor=0.4,
        adoption_lag_days=45,
    ),
    DemoProject(
        project_id="proj_reporting",
        team="Finance",
        models=("gpt-4o-mini-2024-07-18", "gpt-4.1-nano-2025-04-14"),
        base_daily_tokens=8_000_000,
        monthly_growth=0.01,
        launch_day=None,
        launch_factor=1.0,
        output_ratio=0.22,
        weekend_factor=0.2,
        adoption_lag_days=60,
    ),
    DemoProject(
        project_id="proj_dev_tools",
        team="Engineering",
        models=("gpt-4o-2024-05-13", "o4-mini-2025-04-16", "gpt-5-2025-08-07"),
        base_daily_tokens=10_000_000,
        monthly_growth=0.03,
        launch_day=None,
        launch_factor=1.0,
        output_ratio=0.2,
        cached_share=0.5,
        cache_write_share=0.02,
        weekend_factor=0.25,
        adoption_lag_days=21,
    ),
    DemoProject(
        project_id="proj_marketing",
        team="Marketing",
        models=("gpt-4o-2024-05-13", "gpt-5-mini-2025-08-07"),
        base_daily_tokens=5_000_000,
        monthly_growth=0.01,
        launch_day=None,
        launch_factor=1.0,
        output_ratio=0.4,
        weekend_factor=0.3,
        adoption_lag_days=90,
    ),
)


def mature_shape() -> OrgShape:
    """A mature program: 21 months of OpenAI usage from 2024-08 (cut-offs at 12, 13, 16 and 18 months)."""
    return OrgShape(
        name="mature",
        description="mature program, 5 projects growing 1-3%/month, three model generations",
        sources=(_openai_source(MATURE_PROJECTS, seed=23),),
        rules=_project_rules(MATURE_PROJECTS),
        end=date(2026, 4, 30),
        months=21,
        tuning=(date(2025, 7, 31), date(2025, 8, 31)),  # 12 and 13 months; test months end 2025-11
        reported=(date(2025, 11, 30), date(2026, 1, 31)),  # 16 and 18 months
    )


ORGS: dict[str, Callable[[], OrgShape]] = {"demo": demo_shape, "young": young_shape, "mature": mature_shape}


def check_shape(shape: OrgShape) -> None:
    """Fail early on a cut-off that is not a month end, lacks three months after it, or breaks the split."""
    for cutoff in shape.cutoffs:
        if cutoff != month_end(cutoff):
            raise ValueError(f"{shape.name}: cut-off {cutoff} is not a month end")
        if month_end(test_months(cutoff)[-1]) > shape.end or cutoff < shape.start:
            raise ValueError(f"{shape.name}: cut-off {cutoff} lacks three months of data after it")
    if shape.tuning and shape.reported:
        last_tuning_test = month_end(test_months(max(shape.tuning))[-1])
        if last_tuning_test > min(shape.reported):
            raise ValueError(f"{shape.name}: a tuning test month ({last_tuning_test}) is after a reported cut-off")


def write_exports(shape: OrgShape, directory: Path) -> list[MonthFile]:
    """Write every export of the organization (all months) under ``directory``; return them by month, then source."""
    months = [first for first, _ in month_spans(shape.start, shape.end)]
    files: list[MonthFile] = []
    for source in shape.sources:
        paths = source.write(directory / source.directory, end=shape.end, months=shape.months)
        files += [MonthFile(month, path) for month, path in zip(months, paths, strict=True)]
    return sorted(files, key=lambda item: item.month)


def files_through(files: Sequence[MonthFile], cutoff: date) -> list[MonthFile]:
    """The files of the months up to and including the cut-off's month."""
    return [item for item in files if item.month <= cutoff]
