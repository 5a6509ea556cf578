"""``manage.py forecast_csv --policy``: the candidates of a workload's token volume (the growth model by default)
or of any series."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command


def growing_usage(days: int = 70) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    t = np.arange(days)
    weekday = np.array([1.0, 1.05, 1.1, 1.05, 0.95, 0.45, 0.4])[t % 7]
    tokens = 5e6 * 1.10 ** (t / 30.44) * weekday * np.exp(rng.normal(0, 0.08, days))  # 10% a month
    return pd.DataFrame({"ds": pd.date_range("2026-01-01", periods=days, freq="D"), "y": tokens.round()})


def forecast(tmp_path, capsys, *extra: str) -> tuple[pd.DataFrame, str]:
    path = tmp_path / "usage.csv"
    growing_usage().to_csv(path, index=False)
    call_command("forecast_csv", str(path), "--horizon", "91", *extra)
    captured = capsys.readouterr()
    frame = pd.read_csv(io.StringIO(captured.out))
    return frame, captured.err


def test_the_workload_policy_carries_a_young_programs_growth(tmp_path, capsys) -> None:
    history = growing_usage()
    frame, model_line = forecast(tmp_path, capsys, "--policy", "workload")

    # 70 days cannot be backtested at 30 days (56 training days at least): the workload default serves.
    assert "growth model" in model_line
    last_week = history["y"].to_numpy()[-7:].sum()
    # Three months on, about 1.1^3 = 1.33x (lightly damped), not the last weeks repeated.
    assert frame["yhat"].to_numpy()[-7:].sum() / last_week == pytest.approx(1.31, rel=0.08)
    assert (frame["yhat_lower"] <= frame["yhat"]).all() and (frame["yhat"] <= frame["yhat_upper"]).all()

    series_frame, series_line = forecast(tmp_path, capsys)  # the default policy: any series, the blend
    assert "blend" in series_line
    assert series_frame["yhat"].to_numpy()[-7:].sum() < frame["yhat"].to_numpy()[-7:].sum()


def test_an_unknown_policy_is_refused(tmp_path) -> None:
    path = tmp_path / "usage.csv"
    growing_usage().to_csv(path, index=False)
    with pytest.raises(CommandError, match="invalid choice: 'rosy'"):
        call_command("forecast_csv", str(path), "--policy", "rosy")
