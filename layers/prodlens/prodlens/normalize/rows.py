"""The canonical traces row built by the Python-parsed formats, and the context of the object they read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prodlens.normalize.fields import RecordError
from prodlens.normalize.rules import SLUG, Rules


@dataclass(frozen=True)
class ObjectContext:
    source_key: str
    meta_repo: str | None
    meta_developer: str | None
    # the field rules of this object, evaluated in batches (rules.Rules); the metadata repo is one of its leaves
    rules: Rules = field(default_factory=Rules, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.rules.prefetch(SLUG, [self.meta_repo])


def model_name(value: Any) -> str | None:
    """A model name is text (a number is kept as its text); an object, list or boolean is no model at all."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def latency_ms(ctx: ObjectContext, start: datetime, end: Any) -> float | None:
    """Milliseconds from `start` to a raw end time; None when the end is absent or not a valid time."""
    if end is None:
        return None
    try:
        return (ctx.rules.timestamp(end) - start).total_seconds() * 1000
    except RecordError:
        return None


def canonical_row(ctx: ObjectContext, source_format: str, rid: str, **values: Any) -> dict[str, Any]:
    """A traces row from a format's values, with the repo decided once for every Python-parsed format (its own,
    else the object's metadata, else `unknown`). Total tokens, the event day and the cost are derived by the
    projection every format shares (normalize.core._project)."""
    repo = ctx.rules.slug(values.pop("own_repo", None)) or ctx.rules.slug(ctx.meta_repo) or "unknown"
    return {
        "record_id": rid,
        "source_format": source_format,
        "session_id": values.get("session_id"),
        "developer_id": values.get("developer_id") or ctx.meta_developer or None,
        "model": model_name(values.get("model")),
        "ts": values["ts"],
        "tokens_in": values["tokens_in"],
        "tokens_out": values["tokens_out"],
        "cache_read_tokens": values["cache_read_tokens"],
        "cache_write_tokens": values["cache_write_tokens"],
        "latency_ms": values.get("latency_ms"),
        "status_code": values.get("status_code"),
        "is_error": bool(values.get("is_error")),
        "accepted_flag": values.get("accepted_flag"),
        "accepted_lines": values.get("accepted_lines"),
        "diff_ratio": values.get("diff_ratio"),
        "source_cost": values.get("source_cost"),
        "git_branch": values.get("git_branch"),
        "repo": repo,
    }
