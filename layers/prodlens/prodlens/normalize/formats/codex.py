"""OpenAI Codex CLI session rollouts (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`): one row per model request.

A rollout is a stream of `{timestamp, type, payload}` lines (`session_meta`, `turn_context`, `event_msg`,
`response_item`); older rollouts start with a bare `{id, timestamp, instructions, git}` line and carry no
token counts at all. Usage is in `event_msg` lines of payload type `token_count`, whose
`info.total_token_usage` is CUMULATIVE per session and is re-emitted unchanged (byte-identical, or with fresh
rate limits). So a line becomes a row only when the session total advances, with the increase of each
counter since the previous advance as its tokens (never the totals summed); every other line is skipped.
A forked sub-agent rollout starts with its own `session_meta` and its parent's, then replays the parent's
token counts: those set the starting total and are skipped, until the fork's own first user message.

Rows: session = the first `session_meta.id`; git branch = its `git.branch`; model = the latest `turn_context.model`
before the line; repo = `session_meta.git.repository_url` (else the object's `repo` metadata); time = the line's
`timestamp` (UTC).
`input_tokens` includes `cached_input_tokens` (cache reads) and `output_tokens` includes reasoning tokens.
The record id is (session, cumulative total), the same however often the line is re-emitted or re-delivered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from prodlens.normalize.fields import RecordError, dead_letter_raw, dig, record_id
from prodlens.normalize.formats.base import Dead, Outcome, Row, Skip, StreamFormat
from prodlens.normalize.rows import ObjectContext, canonical_row
from prodlens.normalize.rules import TIMESTAMP, TOKENS, Rules

_ENVELOPE_TYPES = frozenset({"session_meta", "turn_context", "event_msg", "response_item"})
_COUNTERS = ("input_tokens", "cached_input_tokens", "output_tokens")
# git@host:owner/name.git, https://host/owner/name(.git), ssh://git@host/owner/name.git
_REMOTE = re.compile(r"^(?:[a-z+]+://)?(?:[^@/]+@)?[^:/]+[:/](?P<path>.+?)(?:\.git)?/?$")


def detects(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    if obj.get("type") in _ENVELOPE_TYPES and isinstance(obj.get("payload"), dict) and "timestamp" in obj:
        return True
    return {"id", "timestamp", "instructions"} <= obj.keys() and "type" not in obj  # the bare first line


def repo_from_remote(url: Any) -> str | None:
    """`owner/name` from a git remote URL (its last two path segments), None when there is none."""
    if not isinstance(url, str) or not url.strip():
        return None
    match = _REMOTE.match(url.strip())
    if match is None:
        return None
    parts = [p for p in match.group("path").split("/") if p]
    return "/".join(parts[-2:]) if len(parts) >= 2 else None


class _Session:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.session_id: str | None = None
        self.repo: str | None = None
        self.branch: Any = None  # session_meta.git.branch, raw
        self.model: str | None = None
        self.metas = 0
        self.forked = False
        self.replaying = False
        self.totals: dict[str, int] | None = None  # the counters at the last advance

    def read_meta(self, payload: dict[str, Any]) -> None:
        self.metas += 1
        if self.metas == 1:
            self.session_id = str(payload["id"]) if payload.get("id") is not None else None
            self.repo = repo_from_remote(dig(payload, "git", "repository_url"))
            self.branch = dig(payload, "git", "branch")
            self.forked = isinstance(dig(payload, "source", "subagent"), dict)
            self.replaying = self.forked
        elif self.forked:
            self.replaying = True  # the parent's header: its token counts follow, replayed

    def advance(self, usage: dict[str, Any]) -> dict[str, int] | None:
        """The increase of each counter if the cumulative total advanced, else None (a re-emit)."""
        totals = {name: self.rules.tokens(usage.get(name), f"total_token_usage.{name}") or 0 for name in _COUNTERS}
        previous = self.totals or dict.fromkeys(_COUNTERS, 0)
        if sum(totals[n] for n in ("input_tokens", "output_tokens")) <= sum(
            previous[n] for n in ("input_tokens", "output_tokens")
        ):
            return None
        self.totals = totals
        increase = {name: totals[name] - previous[name] for name in _COUNTERS}
        if any(value < 0 for value in increase.values()):
            raise RecordError("invalid_tokens", "a cumulative token counter went down while the total advanced")
        return increase


def _row(session: _Session, line: dict[str, Any], increase: dict[str, int], ctx: ObjectContext) -> dict[str, Any]:
    cached = increase["cached_input_tokens"]
    if cached > increase["input_tokens"]:
        raise RecordError("invalid_tokens", f"cached input {cached} > input {increase['input_tokens']}")
    assert session.totals is not None
    total = session.totals["input_tokens"] + session.totals["output_tokens"]
    return canonical_row(
        ctx,
        "codex",
        record_id("codex", session.session_id or ctx.source_key, total),
        own_repo=session.repo,
        session_id=session.session_id,
        git_branch=ctx.rules.branch(session.branch),
        model=session.model,
        ts=ctx.rules.timestamp(line.get("timestamp")),
        tokens_in=increase["input_tokens"] - cached,
        tokens_out=increase["output_tokens"],
        cache_read_tokens=cached,
        cache_write_tokens=0,
    )


def _usage(line: Any) -> dict[str, Any] | None:
    """The cumulative counters of a token_count event line (not yet checked), else None."""
    payload = line.get("payload") if isinstance(line, dict) and line.get("type") == "event_msg" else None
    usage = dig(payload, "info", "total_token_usage") if dig(payload, "type") == "token_count" else None
    return usage if isinstance(usage, dict) else None


def records(lines: Iterable[tuple[int, Any]], ctx: ObjectContext) -> Iterator[tuple[int, Outcome]]:
    lines = list(lines)
    counted = [(line, usage) for _, line in lines if (usage := _usage(line)) is not None]
    ctx.rules.prefetch(TOKENS, (usage.get(name) for _, usage in counted for name in _COUNTERS))
    ctx.rules.prefetch(TIMESTAMP, (line.get("timestamp") for line, _ in counted))
    session = _Session(ctx.rules)
    for number, line in lines:
        yield number, _outcome(session, line, ctx)


def _outcome(session: _Session, line: Any, ctx: ObjectContext) -> Outcome:
    """What one line yields, once it has updated what the session knows (meta, model, replay)."""
    payload = line.get("payload") if isinstance(line, dict) else None
    if not isinstance(payload, dict):
        if isinstance(line, dict) and detects(line) and session.metas == 0:  # the bare first line (older CLIs)
            session.read_meta(line)
        return Skip()
    kind = line.get("type")
    if kind == "session_meta":
        session.read_meta(payload)
    elif kind == "turn_context" and isinstance(payload.get("model"), str):
        session.model = payload["model"]
    elif kind == "event_msg" and payload.get("type") == "user_message":
        session.replaying = False
    elif (usage := _usage(line)) is not None:
        return _token_count(session, line, usage, ctx)
    return Skip()


def _token_count(session: _Session, line: dict[str, Any], usage: dict[str, Any], ctx: ObjectContext) -> Outcome:
    """A row of the tokens a token_count line adds, unless it re-emits the total or replays the parent's."""
    try:
        increase = session.advance(usage)
        if increase is None or session.replaying:
            return Skip()
        return Row(_row(session, line, increase, ctx))
    except RecordError as exc:
        return Dead(exc.reason, exc.detail, dead_letter_raw(None, line))


FORMAT = StreamFormat("codex", detects, records)
