"""The rollout_effects rows from daily rows: units, rollout dates (configured, detected), the median's missing
days, Benjamini-Hochberg and verdicts; and config/rollouts.json."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from prodlens.rollouts import InvalidRolloutsConfig, parse_rollouts
from prodlens.schema import ROLLOUT_EFFECTS
from prodlens.stats import rollout
from prodlens.stats.rollout_table import rollout_effects

START = date(2026, 1, 5)
DAYS = 168
ROLLOUT = 84  # 2026-03-30, a Monday
DOW = np.array([1.0, 1.05, 1.0, 0.95, 0.85, 0.1, 0.05])


def _rows(seed: int = 1, rise: float = 0.6) -> tuple[list[dict], list[dict], list[dict]]:
    """acme/api adopts AI on day ROLLOUT and delivers `rise` more from then on; acme/web uses AI throughout."""
    rng = np.random.default_rng(seed)
    sessions, github, developers = [], [], []
    for d in range(DAYS):
        day = START + timedelta(days=d)
        weekday = DOW[day.weekday()]
        for repo, adopted in (("acme/api", d >= ROLLOUT), ("acme/web", True)):
            requests = int(rng.poisson(40 * weekday)) if adopted else 0
            sessions.append({"event_date": day, "repo": repo, "request_count": requests})
            lift = 1 + rise if repo == "acme/api" and adopted else 1.0
            merged = int(rng.poisson(4 * weekday * lift))
            github.append(
                {
                    "event_date": day,
                    "repo": repo,
                    "commit_count": int(rng.poisson(10 * weekday * lift)),
                    "merged_pr_count": merged,
                    "reopened_pr_count": int(rng.poisson(0.2)),
                    "median_merge_hours": float(rng.gamma(2, 8)) if merged else None,
                }
            )
        developers.append(
            {
                "event_date": day,
                "person": "mara",
                "team": "platform",
                "requests": 5 if d >= ROLLOUT else 0,
                "sessions": 0,
                "ai_accepted_lines": 0,
                "commits_authored": int(rng.poisson(3 * weekday)),
                "prs_merged": int(rng.poisson(weekday)),
            }
        )
    return sessions, github, developers


def _by_key(rows: list[dict]) -> dict[tuple[str, str, str], dict]:
    return {(r["unit"], r["metric"], r["design"]): r for r in rows}


def test_every_unit_metric_and_design_has_one_row_with_the_tables_columns():
    rows = rollout_effects(*_rows())
    keys = [(r["unit"], r["metric"], r["design"]) for r in rows]
    assert len(keys) == len(set(keys))
    units = {(u, d) for u, _, d in keys}
    assert units == {("acme/api", "its"), ("acme/web", "its"), ("*", "its"), ("team:platform", "its"), ("*", "did")}
    assert all(set(r) == {name for name, _ in ROLLOUT_EFFECTS.columns} for r in rows)
    assert {m for u, m, d in keys if u == "*" and d == "its"} == {
        "commit_count",
        "merged_pr_count",
        "reopened_pr_count",
    }


def test_a_detected_rollout_finds_the_rise_and_a_unit_using_ai_throughout_has_no_before():
    rows = _by_key(rollout_effects(*_rows()))
    api = rows[("acme/api", "commit_count", "its")]
    # Detected: the Monday of the first week at half the steady AI use
    assert (api["rollout_date"], api["rollout_source"]) == (START + timedelta(days=ROLLOUT), "detected")
    assert api["verdict"] == "increase" and 0.35 < api["relative_change"] < 0.9
    assert api["ci_low"] < api["level_change"] < api["ci_high"]
    web = rows[("acme/web", "commit_count", "its")]
    assert (web["rollout_date"], web["verdict"], web["p"]) == (None, "too_little_data", None)
    team = rows[("team:platform", "commit_count", "its")]
    assert team["rollout_date"] == START + timedelta(days=ROLLOUT) and team["verdict"] == "no_detectable_change"


def test_a_configured_date_wins_over_detection_and_no_rise_is_no_detectable_change():
    configured = {"acme/api": START + timedelta(days=70), "acme/web": START + timedelta(days=84)}
    rows = _by_key(rollout_effects(*_rows(seed=2, rise=0.0), configured=configured))
    api, web = rows[("acme/api", "merged_pr_count", "its")], rows[("acme/web", "merged_pr_count", "its")]
    assert (api["rollout_date"], api["rollout_source"]) == (START + timedelta(days=70), "configured")
    assert (web["rollout_date"], web["rollout_source"]) == (START + timedelta(days=84), "configured")
    assert {api["verdict"], web["verdict"]} == {"no_detectable_change"}


def test_median_merge_time_leaves_out_days_without_merges():
    sessions, github, developers = _rows()
    rows = _by_key(rollout_effects(sessions, github, developers))
    median = rows[("acme/api", "median_merge_hours", "its")]
    merge_days = [g for g in github if g["repo"] == "acme/api" and g["merged_pr_count"]]
    assert median["days_before"] + median["days_after"] == len(merge_days)


def test_p_adj_is_benjamini_hochberg_over_every_row_with_a_p_and_verdicts_follow_it():
    rows = rollout_effects(*_rows())
    tested = [r for r in rows if r["p"] is not None]
    from prodlens.stats.core import bh_adjust

    assert [r["p_adj"] for r in tested] == pytest.approx(list(bh_adjust([r["p"] for r in tested])))
    for r in rows:
        if r["p_adj"] is None:
            assert r["verdict"] == "too_little_data"
        elif r["p_adj"] < rollout.ALPHA:
            assert r["verdict"] == ("increase" if r["level_change"] > 0 else "decrease")
        else:
            assert r["verdict"] == "no_detectable_change"


def test_did_with_two_repos_is_too_little_data():
    rows = _by_key(rollout_effects(*_rows()))
    assert rows[("*", "commit_count", "did")]["verdict"] == "too_little_data"


def test_rollouts_config_parses_units_and_dates():
    text = b'[{"unit": "Acme/API", "date": "2026-03-02"}, {"unit": "team:payments", "date": "2026-04-06"},' \
           b' {"unit": "*", "date": "2026-03-02"}]'  # fmt: skip
    assert parse_rollouts(text) == {
        "acme/api": date(2026, 3, 2),
        "team:payments": date(2026, 4, 6),
        "*": date(2026, 3, 2),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"{", "not valid JSON"),
        (b'{"unit": "acme/api"}', "JSON array"),
        (b'[{"unit": "acme", "date": "2026-03-02"}]', "entry 1: 'acme' is not a repository"),
        (b'[{"unit": "acme/api", "date": "March"}]', "entry 1"),
        (b'[{"unit": "acme/api", "date": "2026-03-02"}, {"unit": "ACME/api", "date": "2026-03-09"}]', "two dates"),
    ],
)
def test_a_malformed_rollouts_config_says_where(text, message):
    with pytest.raises(InvalidRolloutsConfig, match=message):
        parse_rollouts(text)
