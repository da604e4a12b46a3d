"""The DuckDB connections normalize works on: made here, with their settings in one place, and kept per process.

Opening DuckDB costs more than normalizing a one-record object (about 20 ms of CPU against a few), so a warm Lambda
keeps its connections from object to object: `Session` is the object connection (parsing, projection, Parquet),
`open_connection` also makes the field rules' own connection (normalize.rules). A session starts every object in the
same state: the temp tables and views an object made are dropped when it ends (`Session.reset`), and a session whose
object raised is closed and replaced (`discard`), never reused in an unknown state. Sessions are per thread; a forked
child opens its own.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import duckdb

from prodlens.duck import ident, literal
from prodlens.normalize.rules import prepare


def open_connection(threads: int, memory_limit: str, *, optimizer: bool = True) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the settings every normalize connection shares: naive timestamps are UTC, no
    progress bar (a Lambda has no terminal, and it tracks every query), spills under one per-process folder of the
    temp directory, the field-rule macros bound. `optimizer=False` for connections that only run small queries,
    where planning costs more than it saves."""
    spill = Path(tempfile.gettempdir()) / f"prodlens-duckdb-{os.getpid()}"
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})
    con.execute(f"SET temp_directory = {literal(spill)}; SET enable_progress_bar = false")
    if not optimizer:
        con.execute("PRAGMA disable_optimizer")
    prepare(con)
    return con


class Session:
    """The object connection and the settings it holds now (a SET is sent only when a setting changes)."""

    def __init__(self, threads: int, memory_limit: str) -> None:
        self.con = open_connection(threads, memory_limit)
        self.threads, self.memory_limit = threads, memory_limit
        self.pid = os.getpid()
        self.ordered: bool | None = None

    def configure(self, threads: int, memory_limit: str) -> None:
        """An object's bounds (normalize.Limits)."""
        if (threads, memory_limit) != (self.threads, self.memory_limit):
            self.con.execute(f"SET threads = {int(threads)}; SET memory_limit = {literal(memory_limit)}")
            self.threads, self.memory_limit = threads, memory_limit

    def preserve_order(self, ordered: bool) -> None:
        """Writers keep insertion order (deterministic output with one thread); parsing need not."""
        if ordered != self.ordered:
            self.con.execute(f"SET preserve_insertion_order = {'true' if ordered else 'false'}")
            self.ordered = ordered

    def reset(self) -> None:
        """Drop every temp table and view (what one object made); the macros stay."""
        found = self.con.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = 'temp'"
        ).fetchall()
        for name, kind in found:
            self.con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS {ident(name)}")


_local = threading.local()


def session(threads: int, memory_limit: str) -> Session:
    """This thread's session, configured for an object with these bounds."""
    held: Session | None = getattr(_local, "session", None)
    if held is None or held.pid != os.getpid():
        held = _local.session = Session(threads, memory_limit)
    held.configure(threads, memory_limit)
    return held


def discard() -> None:
    """Close this thread's session (its object raised): the next object opens a fresh one."""
    held: Session | None = getattr(_local, "session", None)
    _local.session = None
    if held is not None and held.pid == os.getpid():
        try:
            held.con.close()
        except duckdb.Error:
            pass
