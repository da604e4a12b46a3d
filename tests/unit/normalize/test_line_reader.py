"""NumberedLines: the raw text of chosen lines and the line count in one pass, whatever the chunk boundaries."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from prodlens.normalize.jsonl import NumberedLines

LINE = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"x"))


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(LINE, max_size=30),
    final_newline=st.booleans(),
    crlf=st.booleans(),
    chunk=st.integers(min_value=1, max_value=64),
    picks=st.sets(st.integers(min_value=1, max_value=35)),
)
def test_lines_at_returns_each_wanted_line_and_counts_every_line(
    tmp_path_factory, lines, final_newline, crlf, chunk, picks
) -> None:
    end = b"\r\n" if crlf else b"\n"
    data = end.join(lines) + (end if final_newline and lines else b"")
    path: Path = tmp_path_factory.mktemp("lines") / "f.jsonl"
    path.write_bytes(data)
    pieces = data.split(b"\n")
    if not pieces[-1]:
        pieces.pop()  # the empty piece after the last line end is not a line
    numbered = dict(enumerate(pieces, 1))
    expected = [(n, numbered.get(n, b"").rstrip(b"\r")) for n in sorted(picks)]
    reader = NumberedLines(path, chunk_bytes=chunk)
    assert list(reader.lines_at(sorted(picks))) == expected
    assert reader.total == len(numbered)


def test_lines_at_reads_a_line_longer_than_a_chunk(tmp_path) -> None:
    path = tmp_path / "long.jsonl"
    long = b"y" * 1000
    path.write_bytes(b"a\n" + long + b"\nb\n")
    reader = NumberedLines(path, chunk_bytes=7)
    assert list(reader.lines_at([2, 3])) == [(2, long), (3, b"b")]
    assert reader.total == 3
