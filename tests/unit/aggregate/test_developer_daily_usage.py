"""developer_daily_usage and ai_commits from staging rows: reports replace, metric points count once, cumulative
series become increments, organization totals never add to per-developer rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from prodlens.aggregate import PartitionFile, ai_commits, developer_daily_usage
from prodlens.schema import AI_COMMIT_RECORDS, USAGE_MEASURES, USAGE_RECORDS

from tests.unit.aggregate.aggregate_lakedata import write_parquet

MEASURES = [name for name, _ in USAGE_MEASURES]


def _usage(tool: str, day: str, developer: str, kind: str = "report", **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(MEASURES)
    row.update(
        record_id=values.pop("record_id", f"{tool}|{day}|{developer}|{kind}"),
        kind=kind,
        source_format=values.pop("source_format", f"{tool}_fmt"),
        developer_id=developer,
        repo=None,
        series_id=None,
        series_start=None,
        point_time=None,
        reported_at=values.pop("reported_at", datetime(2026, 3, 1)),
        source_key=values.pop("source_key", f"usage/{tool}/report.json"),
    )
    row.update(values)
    row["_partition"] = {"event_date": day, "tool": tool}
    return row


def _point(day: str, developer: str, series: str, minute: int, kind: str, **values: Any) -> dict[str, Any]:
    time = datetime.fromisoformat(day) + timedelta(hours=12, minutes=minute)
    start = datetime.fromisoformat("2026-03-01T08:00:00")
    return _usage(
        "claude_code",
        day,
        developer,
        kind,
        record_id=values.pop("record_id", f"{series}|{time.isoformat()}"),
        source_format="claude_code_otel_metrics",
        series_id=series,
        series_start=start,
        point_time=time,
        **values,
    )


def _files(tmp_path: Path, objects: dict[str, list[dict[str, Any]]]) -> list[PartitionFile]:
    """One Parquet file per (object name, partition): the staging objects normalize would write."""
    files = []
    for name, rows in objects.items():
        by_partition: dict[tuple, list[dict[str, Any]]] = {}
        for row in rows:
            by_partition.setdefault(tuple(sorted(row["_partition"].items())), []).append(row)
        for key, part_rows in by_partition.items():
            partition = dict(key)
            path = tmp_path / "in" / f"{name}-{partition['event_date']}-{partition['tool']}.parquet"
            write_parquet(path, USAGE_RECORDS, part_rows)
            files.append(PartitionFile(path, partition))
    return files


def _build(tmp_path: Path, objects: dict[str, list[dict[str, Any]]], days: list[str]) -> dict[tuple, dict]:
    outputs = developer_daily_usage(_files(tmp_path, objects), days, tmp_path / "out")
    rows = {}
    for output in outputs:
        rel = duckdb.sql(f"SELECT * FROM read_parquet('{output.path}')")
        for values in rel.fetchall():
            row = dict(zip(rel.columns, values, strict=True))
            rows[(output.partition["event_date"], row["tool"], row["developer_id"])] = row
    return rows


def test_a_later_report_replaces_an_earlier_one_for_the_same_day_and_developer(tmp_path):
    # Given: the same Copilot day reported twice (a 1-day report, then a 28-day report stored later)
    early = _usage("copilot", "2026-03-02", "alice", accepted_lines=10, reported_at=datetime(2026, 3, 3))
    late = _usage(
        "copilot", "2026-03-02", "alice", accepted_lines=12, reported_at=datetime(2026, 3, 20), source_key="usage/b"
    )
    bob = _usage("copilot", "2026-03-02", "bob", accepted_lines=5, reported_at=datetime(2026, 3, 3))

    # When: built whichever order the objects are listed in
    forward = _build(tmp_path / "f", {"a": [early, bob], "b": [late]}, ["2026-03-02"])
    backward = _build(tmp_path / "b", {"b": [late], "a": [early, bob]}, ["2026-03-02"])

    # Then: the report stored last wins, never the sum (22) or the first one (10)
    assert forward[("2026-03-02", "copilot", "alice")]["accepted_lines"] == 12
    assert forward[("2026-03-02", "copilot", "alice")]["source_key"] == "usage/b"
    assert forward[("2026-03-02", "copilot", "bob")]["accepted_lines"] == 5
    assert forward == backward


def test_unmeasured_measures_stay_null_and_measured_zero_stays_zero(tmp_path):
    rows = _build(tmp_path, {"a": [_usage("cursor", "2026-03-02", "carol", accepted_lines=0)]}, ["2026-03-02"])
    row = rows[("2026-03-02", "cursor", "carol")]
    assert row["accepted_lines"] == 0
    assert row["tokens_in"] is None and row["cost_usd"] is None
    assert row["person"] is None and row["team"] is None


def test_delta_points_are_summed_and_a_point_delivered_twice_counts_once(tmp_path):
    points = [_point("2026-03-02", "dana", "s1", m, "delta", tokens_in=v) for m, v in ((1, 100), (2, 50), (3, 25))]
    again = [dict(points[1], source_key="usage/otel/copy.json")]  # the same point in a second object

    rows = _build(tmp_path, {"a": points, "b": again}, ["2026-03-02"])

    assert rows[("2026-03-02", "claude_code", "dana")]["tokens_in"] == 175


def test_cumulative_points_become_increments_along_their_series_never_a_sum_of_totals(tmp_path):
    # Given: two series (input and output tokens) exporting running totals, and a restart (new series s3)
    s1 = [_point("2026-03-02", "dana", "s1", m, "cumulative", tokens_in=v) for m, v in ((1, 100), (2, 150), (3, 150))]
    s2 = [_point("2026-03-02", "dana", "s2", m, "cumulative", tokens_out=v) for m, v in ((1, 7), (3, 9))]
    s3 = [_point("2026-03-02", "dana", "s3", m, "cumulative", tokens_in=v) for m, v in ((5, 20), (6, 30))]

    rows = _build(tmp_path, {"a": s1[:2] + s2, "b": s1[2:] + s3}, ["2026-03-02"])

    row = rows[("2026-03-02", "claude_code", "dana")]
    assert row["tokens_in"] == 150 + 30  # s1's last total, plus s3's; never 100 + 150 + 150 + 20 + 30
    assert row["tokens_out"] == 9


def test_a_cumulative_series_crossing_midnight_counts_only_the_days_own_increase(tmp_path):
    before = _point("2026-03-01", "dana", "s1", 600, "cumulative", tokens_in=400)  # 22:00 on the 1st
    after = _point("2026-03-02", "dana", "s1", 1, "cumulative", tokens_in=460)
    dropped = _point("2026-03-02", "dana", "s1", 2, "cumulative", tokens_in=15)  # a reset without a new start

    rows = _build(tmp_path, {"a": [before], "b": [after, dropped]}, ["2026-03-01", "2026-03-02"])

    assert rows[("2026-03-01", "claude_code", "dana")]["tokens_in"] == 400
    assert rows[("2026-03-02", "claude_code", "dana")]["tokens_in"] == 60 + 15


def test_a_report_is_the_figure_for_its_key_and_metric_points_are_not_added(tmp_path):
    report = _usage("claude_code", "2026-03-02", "dana", tokens_in=1000, source_format="claude_code_analytics")
    point = _point("2026-03-02", "dana", "s1", 1, "delta", tokens_in=700)
    other = _point("2026-03-02", "erin", "s2", 1, "delta", tokens_in=300)

    rows = _build(tmp_path, {"a": [report], "b": [point, other]}, ["2026-03-02"])

    assert rows[("2026-03-02", "claude_code", "dana")]["tokens_in"] == 1000
    assert rows[("2026-03-02", "claude_code", "dana")]["source_format"] == "claude_code_analytics"
    assert rows[("2026-03-02", "claude_code", "erin")]["tokens_in"] == 300


def test_an_organization_total_is_kept_only_for_a_day_without_per_developer_rows(tmp_path):
    org_old = _usage("copilot", "2026-03-02", "*", accepted_lines=40)
    org_new = _usage("copilot", "2026-03-03", "*", accepted_lines=41)
    alice = _usage("copilot", "2026-03-03", "alice", accepted_lines=30)

    rows = _build(tmp_path, {"a": [org_old, org_new], "b": [alice]}, ["2026-03-02", "2026-03-03"])

    assert set(rows) == {("2026-03-02", "copilot", "*"), ("2026-03-03", "copilot", "alice")}


@pytest.mark.parametrize("requested", [["2026-03-02"], ["2026-03-01", "2026-03-02"]])
def test_only_requested_days_are_written(tmp_path, requested):
    rows = [_usage("cursor", day, "carol", accepts=1) for day in ("2026-03-01", "2026-03-02")]
    built = _build(tmp_path, {"a": rows}, requested)
    assert {day for day, _, _ in built} == set(requested)


def test_ai_commits_keep_one_row_per_repo_and_sha_from_the_page_stored_last(tmp_path):
    def item(sha: str, lines: int, stored: int, key: str) -> dict[str, Any]:
        return {
            "record_id": f"{sha}|{key}",
            "sha": sha,
            "tool": "cursor",
            "developer_id": "dev@acme.example",
            "committed_at": datetime(2026, 3, 2, 10),
            "ai_lines_added": lines,
            "total_lines_added": 50,
            "is_primary_branch": True,
            "reported_at": datetime(2026, 3, stored),
            "source_key": key,
        }

    old = tmp_path / "old.parquet"
    new = tmp_path / "new.parquet"
    write_parquet(old, AI_COMMIT_RECORDS, [item("a" * 40, 10, 3, "usage/cursor/p1"), item("b" * 40, 4, 3, "p1")])
    write_parquet(new, AI_COMMIT_RECORDS, [item("a" * 40, 12, 9, "usage/cursor/p2")])

    outputs = ai_commits([PartitionFile(old, {"repo": "acme/api"}), PartitionFile(new, {"repo": "acme/api"})], tmp_path)

    (output,) = outputs
    got = duckdb.sql(f"SELECT sha, ai_lines_added FROM read_parquet('{output.path}') ORDER BY sha").fetchall()
    assert got == [("a" * 40, 12), ("b" * 40, 4)]
    assert output.partition == {"repo": "acme/api"}
