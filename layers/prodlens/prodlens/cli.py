"""`prodlens`: the embedded local stack, the normalize and GitHub cores on local files, and queries."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path


class CliError(Exception):
    """A mistake in the command (a path, a statement): `prodlens <command>: <message>` on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (`prodlens report: argument --since: ...`), exit 2; no usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message}\n")


def _day(text: str) -> str:
    try:
        date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None
    return text


def _lake(args: argparse.Namespace) -> Path:
    """The --lake folder of a command that reads a lake: it must hold one (`prodlens pipeline` makes it)."""
    path = Path(args.lake)
    if not (path / "lake").is_dir() and not (path / "state").is_dir():
        raise CliError(f"no lake at {args.lake}: make one with `prodlens pipeline --input DIR --lake {args.lake}`")
    return path


@contextlib.contextmanager
def _functions_log_to_stderr() -> Iterator[None]:
    """Function logs and EMF metric lines go to stderr, so stdout carries only the command's own answer."""
    from prodlens.observability import logger

    handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    previous = [h.setStream(sys.stderr) for h in handlers]
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            if stream is not None:
                handler.setStream(stream)


def _pipeline(args: argparse.Namespace) -> int:
    from prodlens.local.stack import run_pipeline

    with _functions_log_to_stderr():
        summary = run_pipeline(Path(args.input), Path(args.lake), workers=args.workers)
    print(json.dumps(summary, sort_keys=True, default=str))
    return 0


def _normalize(args: argparse.Namespace) -> int:
    from prodlens.normalize import normalize_paths

    print(json.dumps(normalize_paths([Path(p) for p in args.files], Path(args.out)), sort_keys=True))
    return 0


def _github_sync(args: argparse.Namespace) -> int:
    from prodlens.github.local import run_local_sync

    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        print("prodlens github-sync: set GITHUB_TOKEN", file=sys.stderr)
        return 2
    print(json.dumps(run_local_sync(args.repo, Path(args.out), args.api_url, token), sort_keys=True, default=str))
    return 0


def _usage_sync(args: argparse.Namespace) -> int:
    from prodlens.vendors.local import run_local_usage_sync
    from prodlens.vendors.sources import source

    variable = source(args.source).token_name
    token = os.environ.get(variable, "")
    if not token:
        print(f"prodlens usage-sync: set {variable}", file=sys.stderr)
        return 2
    oldest = date.fromisoformat(args.oldest) if args.oldest else None
    try:
        summary = run_local_usage_sync(
            args.source, args.org, Path(args.out), token, args.api_url, scope=args.scope, oldest=oldest
        )
    except ValueError as exc:  # an --org that is not a name, a scope the source does not have
        raise CliError(str(exc)) from None
    print(json.dumps(summary, sort_keys=True, default=str))
    return 1 if summary["status"] == "error" else 0


def _query(args: argparse.Namespace) -> int:
    from prodlens.lake_engine import LocalEngine, format_csv, format_json_lines, named_query

    sql = named_query(args.named) if args.named else args.sql
    if not sql:
        print("prodlens query: give SQL or --named NAME", file=sys.stderr)
        return 2
    if args.athena:
        from prodlens.adapters.athena import run_athena_query

        names, rows = run_athena_query(sql, workgroup=args.workgroup, database=args.database)
    else:
        if not args.lake:
            print("prodlens query: give --lake DIR or --athena", file=sys.stderr)
            return 2
        names, rows = _run_local(LocalEngine(_lake(args) / "lake"), sql)
    sys.stdout.write(format_json_lines(names, rows) if args.format == "json" else format_csv(names, rows))
    return 0


def _run_local(engine: object, sql: str) -> tuple[list[str], list[tuple]]:
    import duckdb
    import sqlglot.errors

    try:
        return engine.execute(sql)  # type: ignore[attr-defined]
    except (duckdb.Error, sqlglot.errors.SqlglotError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"the statement failed: {first_line}") from None


def _report(args: argparse.Namespace) -> int:
    from prodlens.services.report import local_report

    sys.stdout.write(
        local_report(
            _lake(args) / "lake",
            fmt=args.format,
            since=args.since,
            until=args.until,
            repo=args.repo,
            team=args.team,
            by_team=args.by == "team",
        )
    )
    return 0


def _aggregate(args: argparse.Namespace) -> int:
    from prodlens.local.stack import run_backfill

    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    lake = _lake(args)
    with _functions_log_to_stderr():
        summary = run_backfill(lake, args.start, args.end)
    print(json.dumps(summary, sort_keys=True, default=str))
    return 0


def _status(args: argparse.Namespace) -> int:
    from prodlens.local.stack import run_status

    lake = _lake(args)
    with _functions_log_to_stderr():
        summary = run_status(lake)
    print(json.dumps(summary, indent=2, sort_keys=True, default=str))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="prodlens", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pipeline", help="run the whole pipeline on the embedded local stack")
    p.add_argument("--input", required=True, help="folder whose files are dropped into the raw bucket")
    p.add_argument("--lake", required=True, help="local state folder (created; later runs continue from it)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="normalize worker processes, as concurrent Lambda invocations (default: one per core)",
    )
    p.set_defaults(func=_pipeline)

    p = sub.add_parser("normalize", help="normalize local files to canonical Parquet and dead letters")
    p.add_argument("files", nargs="+")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_normalize)

    p = sub.add_parser("github-sync", help="fetch GitHub pages into DIR (token from GITHUB_TOKEN)")
    p.add_argument("--repo", required=True, help="OWNER/NAME")
    p.add_argument("--out", required=True)
    p.add_argument("--api-url", default="https://api.github.com")
    p.set_defaults(func=_github_sync)

    p = sub.add_parser("usage-sync", help="fetch vendor usage reports into DIR (COPILOT_TOKEN / ANTHROPIC_ADMIN_KEY)")
    p.add_argument("--source", required=True, choices=("copilot", "claude_code"))
    p.add_argument("--org", required=True, help="GitHub organization (or enterprise), or Anthropic org/workspace label")
    p.add_argument("--out", required=True)
    p.add_argument("--api-url", help="default: https://api.github.com or https://api.anthropic.com")
    p.add_argument("--scope", choices=("organization", "enterprise"), default="organization", help="Copilot only")
    p.add_argument(
        "--oldest",
        type=_day,
        help="first day of the first run (default: copilot, the oldest day GitHub keeps; claude_code, 28 days ago)",
    )
    p.set_defaults(func=_usage_sync)

    p = sub.add_parser("query", help="run an Athena (Trino) statement on the local lake or on Athena")
    p.add_argument("sql", nargs="?", default="")
    p.add_argument("--named", help="a named query from the template (e.g. significant_correlations)")
    p.add_argument("--lake")
    p.add_argument("--athena", action="store_true", help="run on real Athena (AWS credentials from the environment)")
    p.add_argument("--workgroup", default="prodlens-dev")
    p.add_argument("--database", default="prodlens")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.set_defaults(func=_query)

    p = sub.add_parser("report", help="the human-readable report from the local lake")
    p.add_argument("--lake", required=True)
    p.add_argument("--format", choices=("text", "json", "html"), default="text")
    p.add_argument("--since", type=_day)
    p.add_argument("--until", type=_day)
    p.add_argument("--repo")
    p.add_argument("--team", help="the team view for one team of config/people.json, person by person")
    p.add_argument("--by", choices=("repo", "team"), default="repo", help="team: show the team view always")
    p.set_defaults(func=_report)

    p = sub.add_parser("aggregate", help="recompute the daily tables for a date range (backfill)")
    p.add_argument("--lake", required=True)
    p.add_argument("--start", required=True, type=_day)
    p.add_argument("--end", required=True, type=_day)
    p.set_defaults(func=_aggregate)

    p = sub.add_parser("status", help="last runs, dirty backlog and partitions of the local lake")
    p.add_argument("--lake", required=True)
    p.set_defaults(func=_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    from prodlens.people import InvalidPeopleConfig

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (CliError, InvalidPeopleConfig, FileNotFoundError) as exc:
        print(f"prodlens {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
