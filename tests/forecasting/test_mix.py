"""A workload's model mix and token-type split, forecast apart from its volume (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.mix import workload_mix

DAYS = 120
HORIZON = 180


def daily(share: np.ndarray | float, total: float = 1e6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return total * np.asarray(share) * np.exp(rng.normal(0, 0.05, DAYS))


def test_fractions_add_up_to_one_and_a_steady_mix_stays() -> None:
    leaves = {
        ("gpt-4.1", "input"): daily(0.7 * 0.8, seed=1),
        ("gpt-4.1", "output"): daily(0.7 * 0.2, seed=2),
        ("gpt-4.1-mini", "input"): daily(0.3, seed=3),
    }

    mix = workload_mix(leaves, HORIZON)

    total = sum(mix.fractions.values())
    assert np.allclose(total, 1.0)
    assert mix.fractions[("gpt-4.1", "input")] == pytest.approx(np.full(HORIZON, 0.56), abs=0.02)
    assert mix.fractions[("gpt-4.1", "output")] / mix.fractions[("gpt-4.1", "input")] == pytest.approx(0.25, rel=0.05)
    assert all(share.weekly_log_change == 0.0 for share in mix.shares)
    assert "steady" not in mix.describe()  # steady models are listed with their share only


def test_a_migration_under_way_goes_on_and_the_old_model_tails_off() -> None:
    ramp = np.clip((np.arange(DAYS) - (DAYS - 35)) / 70, 0.0, 1.0)  # the new model went from 0 to 50% in 5 weeks
    leaves = {("gpt-5", "input"): daily(np.maximum(ramp, 1e-9), seed=4), ("gpt-4.1", "input"): daily(1 - ramp, seed=5)}

    mix = workload_mix(leaves, HORIZON)

    new, old = mix.fractions[("gpt-5", "input")], mix.fractions[("gpt-4.1", "input")]
    assert new[0] == pytest.approx(0.5, abs=0.08)
    assert new[60] > 0.75 and old[60] < 0.25  # the ramp continues
    assert np.all(np.diff(new) >= -1e-12)
    assert np.allclose(new + old, 1.0)
    assert "ramping up" in mix.describe() and "tailing off" in mix.describe()


def test_a_model_unused_last_week_is_gone() -> None:
    retired = daily(0.4, seed=6)
    retired[-10:] = 0.0
    mix = workload_mix({("gpt-4o", "input"): retired, ("gpt-4.1", "input"): daily(0.6, seed=7)}, HORIZON)

    assert np.all(mix.fractions[("gpt-4o", "input")] == 0.0)
    assert np.allclose(mix.fractions[("gpt-4.1", "input")], 1.0)


def test_a_steep_newcomer_does_not_take_everything() -> None:
    # A model at 5% whose share doubles every week: its trend is damped, so it gains a bounded multiple.
    share = 0.05 * 2.0 ** ((np.arange(DAYS) - (DAYS - 1)) / 7)
    leaves = {("new", "input"): daily(share, seed=8), ("old", "input"): daily(1 - share, seed=9)}

    fractions = workload_mix(leaves, 365).fractions[("new", "input")]

    assert fractions[-1] > 0.5  # it keeps growing, well past where it is
    # Damped at 0.85 a week, the log share gains at most 5.7 weeks' worth: odds of 0.05/0.95 x 2^5.7 = 2.7 (73%).
    assert fractions[-1] < 0.8


def test_a_leaf_that_started_later_is_padded_and_shares_are_measured_on_whole_weeks() -> None:
    late = daily(0.5, seed=10)[-30:]
    mix = workload_mix({("a", "input"): daily(0.5, seed=11), ("b", "input"): late}, 30)

    assert np.allclose(sum(mix.fractions.values()), 1.0)
    assert mix.fractions[("b", "input")][0] == pytest.approx(0.5, abs=0.05)


def test_an_empty_workload_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one leaf"):
        workload_mix({}, 10)


def test_a_model_whose_projects_grow_faster_drifts_up_slowly() -> None:
    days = 26 * 7
    t = np.arange(days)
    rng = np.random.default_rng(12)
    fast = 4e5 * 1.08 ** (t / 30.44) * np.exp(rng.normal(0, 0.05, days))  # 8% a month
    slow = 6e5 * 1.01 ** (t / 30.44) * np.exp(rng.normal(0, 0.05, days))  # 1% a month

    mix = workload_mix({("fast", "input"): fast, ("slow", "input"): slow}, 90)

    share_now = fast[-28:].sum() / (fast[-28:].sum() + slow[-28:].sum())
    fractions = mix.fractions[("fast", "input")]
    assert "drifting up" in mix.describe() and "drifting down" in mix.describe()
    # Its odds grow by about 7% a month (1.07^3 = 1.22 in three months, a little less damped): from 49% to 53-54%.
    assert fractions[0] == pytest.approx(share_now, abs=0.03)
    assert share_now + 0.03 < fractions[-1] < share_now + 0.07
