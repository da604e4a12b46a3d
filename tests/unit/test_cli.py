"""The CLI answers a user's mistake with one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import pytest
from prodlens.cli import main


def _fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        status = main(list(argv))
        raise SystemExit(status)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["report", "--lake", "x", "--since", "2026-13-45"], "prodlens report: argument --since: not a YYYY-MM-DD"),
        (["report", "--lake", "x", "--until", "yesterday"], "argument --until: not a YYYY-MM-DD date: 'yesterday'"),
        (["aggregate", "--lake", "x", "--start", "2026-02-30", "--end", "2026-03-01"], "argument --start"),
        (["report", "--lake", "x", "--format", "pdf"], "invalid choice: 'pdf'"),
        (["report"], "the following arguments are required: --lake"),
    ],
)
def test_argument_mistakes_are_one_line(capsys, argv, expected):
    assert expected in _fails(capsys, *argv)


@pytest.mark.parametrize("command", [["query", "SELECT 1"], ["report"], ["status"]])
def test_a_lake_folder_that_does_not_exist_is_named_not_read_as_empty(capsys, tmp_path, command):
    missing = tmp_path / "no" / "such" / "dir"
    err = _fails(capsys, command[0], "--lake", str(missing), *command[1:])
    assert f"prodlens {command[0]}: no lake at {missing}" in err
    assert not missing.exists()  # and nothing was created there


def test_a_statement_that_fails_names_the_error(capsys, tmp_path):
    (tmp_path / "lake").mkdir()
    err = _fails(capsys, "query", "--lake", str(tmp_path), "SELEC 1")
    assert err.startswith("prodlens query: the statement failed:")
    err = _fails(capsys, "query", "--lake", str(tmp_path), "SELECT nope FROM traces")
    assert "nope" in err


def test_a_backfill_range_ending_before_it_starts_is_refused(capsys, tmp_path):
    (tmp_path / "lake").mkdir()
    err = _fails(capsys, "aggregate", "--lake", str(tmp_path), "--start", "2026-03-02", "--end", "2026-03-01")
    assert "--end 2026-03-01 is before --start 2026-03-02" in err


def test_a_good_query_on_an_existing_lake_still_answers(capsys, tmp_path):
    (tmp_path / "lake").mkdir()
    assert main(["query", "--lake", str(tmp_path), "SELECT count(*) AS n FROM traces"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "0"]
