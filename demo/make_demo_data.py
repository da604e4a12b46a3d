"""Writes demo/input/: sixteen weeks of synthetic activity for two repos and four people in two teams, in every
raw-zone format: traces, GitHub pages (pull requests, their commits, commits, issue events), vendor usage
reports (Copilot, Claude Code analytics, Cursor) and config/people.json. Some pull requests were written with
Claude Code: sessions on their branch, and an AI co-author trailer on most of their commits.

The shapes are the real ones (copied from the reference samples: the prototype's JSONL, LiteLLM's
StandardLoggingPayload, OTLP/JSON with OpenInference attributes, a Claude Code transcript, GitHub REST
pages); the values are generated. Both repos share the calendar: a weekday rhythm, a company holiday, AI
adoption and delivery that grow over the window. Only acme/api has a real link: its commits follow the
previous day's AI requests, so an honest report finds a next-day link there and none in acme/web (whose raw
correlations are still "significant": the calendar). Deterministic: run it again, get the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parent / "input"
START = date(2026, 9, 1)
DAYS = 112
HOLIDAYS = (date(2026, 11, 26),)  # the whole team is off: almost no AI use, no commits
REPOS = ("acme/api", "acme/web")
# acme/web rolls AI out on Monday 2026-10-19 (config/rollouts.json says so): before, a few developers try it (a
# sixth of the later use), and from then on its delivery is 60 % higher; acme/api uses AI throughout (its link is
# day to day, see github_pages).
WEB_ROLLOUT_DAY = 48
WEB_TRIAL_SHARE = 1 / 6
WEB_ROLLOUT_LIFT = 1.6
DEVELOPERS = ("alice@acme.dev", "bob@acme.dev", "carol@acme.dev", "dan@acme.dev")
MODELS = ("claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "gpt-4o-2024-08-06")
rng = random.Random(20260901)


def _uid(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _write(relative: str, text: str, metadata: dict[str, str] | None = None) -> None:
    path = OUT / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if metadata:
        path.with_name(path.name + ".meta.json").write_text(json.dumps(metadata, indent=2) + "\n")


def _calendar_factor(day: date, weekend: float) -> float:
    """Activity relative to a working weekday: `weekend` on Saturdays and Sundays, almost none on holidays."""
    if day in HOLIDAYS:
        return 0.03
    return weekend if day.weekday() >= 5 else 1.0


def daily_requests() -> dict[str, list[int]]:
    """AI requests per repo and day: a weekday rhythm, a rising adoption trend and noise."""
    # Every day draws its noise, with AI or without, so the other repos' data stay the same draw for draw
    noise = {repo: [rng.gauss(0, 4) for _ in range(DAYS)] for repo in REPOS}
    return {repo: [max(0, int(_usual_requests(repo, d) + noise[repo][d])) for d in range(DAYS)] for repo in REPOS}


def _usual_requests(repo: str, d: int) -> float:
    """The expected AI requests of day d (daily_requests without its noise)."""
    base = 28 if repo == "acme/api" else 16
    trial = WEB_TRIAL_SHARE if repo == "acme/web" and d < WEB_ROLLOUT_DAY else 1.0
    return base * trial * (1 + d / DAYS) * _calendar_factor(START + timedelta(d), 0.35)


def seed_lines(repo: str, requests: list[int]) -> str:
    lines = []
    for d, count in enumerate(requests):
        day = datetime.combine(START + timedelta(d), datetime.min.time(), UTC)
        for _ in range(count):
            ts = day + timedelta(hours=8, seconds=rng.randint(0, 10 * 3600))
            dev = rng.choice(DEVELOPERS)
            accepted = rng.random() < 0.62
            tokens_in, tokens_out = rng.randint(300, 6000), rng.randint(50, 1500)
            lines.append(
                json.dumps(
                    {
                        "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "attributes": {
                            "llm.model_name": f"anthropic/{rng.choice(MODELS[:2])}",
                            "status_code": 200 if rng.random() > 0.03 else 529,
                            "latency_ms": round(rng.lognormvariate(7.2, 0.5), 1),
                            "prod_lens.accepted": accepted,
                            "accepted_lines": rng.randint(1, 60) if accepted else 0,
                            "diff_ratio": round(rng.random(), 3),
                        },
                        "usage": {
                            "input_tokens": tokens_in,
                            "output_tokens": tokens_out,
                            "total_tokens": tokens_in + tokens_out,
                        },
                        "metadata": {
                            "developer_id": dev,
                            "session_id": f"session-{_uid(repo, d, dev)[:12]}",
                            "repo": repo,
                        },
                    }
                )
            )
    return "\n".join(lines) + "\n"


def litellm_payloads(repo: str) -> None:
    """One StandardLoggingPayload per object, as LiteLLM's s3_v2 logger writes them (float epoch times)."""
    for n in range(12):
        d = n * 3 + 1
        start = datetime.combine(START + timedelta(d), datetime.min.time(), UTC) + timedelta(hours=14, minutes=n)
        call_id = f"chatcmpl-{_uid('litellm', n)[:32]}"
        identity = json.dumps(
            {
                "device_id": _uid("device", n % 3)[:16],
                "account_uuid": _uid("acct", n % 3)[:32],
                "session_id": f"{_uid('cc-session', n // 2)[:8]}-4f8c-8198-6e76035342db",
            }
        )
        prompt, cache_read, cache_write, completion = 5200, 3000, 400, 640
        payload = {
            "id": call_id,
            "trace_id": _uid("trace", n)[:32],
            "call_type": "acompletion",
            "cache_hit": None,
            "stream": True,
            "status": "success" if n % 7 else "failure",
            "custom_llm_provider": "anthropic",
            "startTime": start.timestamp(),
            "endTime": start.timestamp() + 3.2,
            "completionStartTime": start.timestamp() + 0.9,
            "response_time": 3.2,
            "model": MODELS[0],
            "model_group": "claude-sonnet",
            "model_id": _uid("model")[:12],
            "response_cost": 0.02154 if n % 7 else 0.0,
            "total_tokens": prompt + completion,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "request_tags": [f"repo:{repo}"],
            "end_user": "",
            "api_base": "https://api.anthropic.com/v1/messages",
            "metadata": {
                "user_api_key_hash": _uid("key")[:64],
                "user_api_key_alias": "claude-code",
                "user_api_key_user_id": "oauth-user",
                "user_api_key_user_email": "oauth@claude-code.ai",
                "user_api_key_team_id": "platform",
                "user_api_key_end_user_id": identity,
                "requester_metadata": {"user_id": identity},
                "spend_logs_metadata": None,
                "usage_object": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                    "cache_read_input_tokens": cache_read,
                    "cache_creation_input_tokens": cache_write,
                },
            },
            "messages": [{"role": "user", "content": "(prompt text: never stored by ProdLens)"}],
            "response": {"choices": [{"message": {"content": "(response text: never stored by ProdLens)"}}]},
            "error_str": None if n % 7 else "rate limited",
            "error_information": None if n % 7 else {"error_code": "429", "error_class": "RateLimitError"},
            "hidden_params": {"litellm_overhead_time_ms": 12.5},
        }
        name = f"time-{start.strftime('%H-%M-%S-%f')}_{call_id}.json"
        _write(f"traces/litellm/{start:%Y-%m-%d}/{name}", json.dumps(payload))
    # LiteLLM audit records share the bucket; they are skipped, not dead-lettered.
    _write(
        "traces/litellm/audit_logs/2026-09-02/10-00-00_audit-1.json",
        json.dumps({"id": "audit-1", "action": "created", "table_name": "LiteLLM_VerificationToken"}),
    )


def _attr(key: str, value: object) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def otlp_export(repo: str) -> None:
    """An OTLP/JSON export of an agent: CHAIN parents, LLM children (OpenInference and GenAI), TOOL spans."""
    spans = []
    for n in range(24):
        d = (n * 7) % DAYS
        start = datetime.combine(START + timedelta(d), datetime.min.time(), UTC) + timedelta(hours=10, minutes=n)
        start_ns = int(start.timestamp()) * 10**9
        trace_id, chain_id = _uid("otlp-trace", n)[:32], _uid("chain", n)[:16]
        spans.append(
            {
                "traceId": trace_id,
                "spanId": chain_id,
                "name": "agent.run",
                "kind": 1,
                "startTimeUnixNano": str(start_ns),
                "endTimeUnixNano": str(start_ns + 9_000_000_000),
                "attributes": [_attr("openinference.span.kind", "CHAIN"), _attr("llm.token_count.prompt", 4000)],
                "status": {"code": 1},
            }
        )
        llm = [_attr("session.id", f"agent-{n // 4}"), _attr("user.id", DEVELOPERS[n % 4])]
        if n % 2:
            llm += [
                _attr("openinference.span.kind", "LLM"),
                _attr("llm.model_name", MODELS[2]),
                _attr("llm.token_count.prompt", 3100),
                _attr("llm.token_count.completion", 420),
                _attr("llm.input_messages.0.message.content", "(prompt text)"),
                _attr("output.value", "(response text)"),
            ]
        else:
            llm += [
                _attr("gen_ai.operation.name", "chat"),
                _attr("gen_ai.request.model", "gpt-4o"),
                _attr("gen_ai.response.model", MODELS[2]),
                _attr("gen_ai.usage.input_tokens", 2800),
                _attr("gen_ai.usage.output_tokens", 350),
            ]
        spans.append(
            {
                "traceId": trace_id,
                "spanId": _uid("llm", n)[:16],
                "parentSpanId": chain_id,
                "name": "chat",
                "kind": 3,
                "startTimeUnixNano": str(start_ns + 1_000_000_000),
                "endTimeUnixNano": str(start_ns + 4_500_000_000),
                "attributes": llm,
                "status": {"code": 2 if n == 5 else 1},
            }
        )
        spans.append(
            {
                "traceId": trace_id,
                "spanId": _uid("tool", n)[:16],
                "parentSpanId": chain_id,
                "name": "run_tests",
                "kind": 1,
                "startTimeUnixNano": str(start_ns + 5_000_000_000),
                "endTimeUnixNano": str(start_ns + 8_000_000_000),
                "attributes": [_attr("openinference.span.kind", "TOOL")],
                "status": {"code": 1},
            }
        )
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", "review-agent"), _attr("repo", repo)]},
                "scopeSpans": [
                    {"scope": {"name": "openinference.instrumentation.openai", "version": "0.1.30"}, "spans": spans}
                ],
            }
        ]
    }
    _write("traces/otlp/review-agent-2026-09.json", json.dumps(document))


def claude_transcript(repo: str, developer: str) -> None:
    """A Claude Code session transcript; the object's metadata names the repo and developer."""
    session = "88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"
    lines = [{"type": "summary", "summary": "Refactor the billing client", "leafUuid": _uid("leaf")[:36]}]
    for n in range(30):
        ts = datetime.combine(START + timedelta(n + 5), datetime.min.time(), UTC) + timedelta(hours=16, seconds=n * 37)
        message_id, request_id = f"msg_01{_uid('msg', n)[:22]}", f"req_011C{_uid('req', n)[:20]}"
        lines.append(
            {
                "type": "user",
                "sessionId": session,
                "cwd": "/home/carol/src/web",
                "timestamp": _iso(ts),
                "uuid": _uid("u", n)[:36],
                "message": {"role": "user", "content": "(prompt text)"},
            }
        )
        usage = {
            "input_tokens": 12 + n,
            "output_tokens": 180 + 5 * n,
            "cache_creation_input_tokens": 900,
            "cache_read_input_tokens": 24000 + 100 * n,
        }
        # Streaming writes one line per content block, each repeating the same message id, request id and usage.
        for block in ("thinking", "text", "tool_use"):
            lines.append(
                {
                    "type": "assistant",
                    "sessionId": session,
                    "cwd": "/home/carol/src/web",
                    "version": "2.0.46",
                    "timestamp": _iso(ts + timedelta(seconds=2)),
                    "requestId": request_id,
                    "uuid": _uid("a", n, block)[:36],
                    "message": {
                        "id": message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": MODELS[0],
                        "content": [{"type": block, "text": "(response text)"}],
                        "usage": usage,
                    },
                }
            )
    lines.append(
        {
            "type": "assistant",
            "sessionId": session,
            "timestamp": _iso(datetime(2026, 10, 6, 9, tzinfo=UTC)),
            "message": {
                "id": "msg_synthetic",
                "model": "<synthetic>",
                "role": "assistant",
                "content": [{"type": "text", "text": "No response requested."}],
                "usage": {"input_tokens": 0, "output_tokens": 0},
            },
        }
    )
    _write(
        f"traces/claude/web/{session}.jsonl",
        "\n".join(json.dumps(line) for line in lines) + "\n",
        {"repo": repo, "developer": developer},
    )


def github_pages(repo: str, requests: list[int]) -> None:
    """REST pages: PRs (all states), commits (commit.author.date) and issue events (reopened)."""
    owner, name = repo.split("/")
    commits, pulls, events = [], [], []
    pr_number = 100
    for d in range(DAYS):
        day = datetime.combine(START + timedelta(d), datetime.min.time(), UTC)
        weekend = (START + timedelta(d)).weekday() >= 5
        previous = requests[d - 1] if d else requests[0]
        usual = 6.0 * (1 + 0.6 * d / DAYS) * _calendar_factor(START + timedelta(d), 0.15)
        if repo == "acme/web" and d >= WEB_ROLLOUT_DAY:
            usual *= WEB_ROLLOUT_LIFT
        # acme/api: yesterday's AI requests beyond their usual level -> today's commits; acme/web: no link
        link = 0.4 * (previous - _usual_requests(repo, d - 1)) if repo == "acme/api" and d else 0.0
        for c in range(max(0, int(usual + link + rng.gauss(0, 1.5)))):
            ts = day + timedelta(hours=9, seconds=rng.randint(0, 9 * 3600))
            sha = _uid(repo, "commit", d, c)[:40]
            author = rng.choice(DEVELOPERS).split("@")[0]
            commits.append(
                {
                    "sha": sha,
                    "node_id": f"C_{sha[:20]}",
                    "html_url": f"https://github.com/{repo}/commit/{sha}",
                    "commit": {
                        "author": {
                            "name": author,
                            "email": f"{author}@acme.dev",
                            "date": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        },
                        "committer": {
                            "name": "GitHub",
                            "email": "noreply@github.com",
                            "date": (ts + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        },
                        "message": "(commit message)",
                        "comment_count": 0,
                    },
                    "author": {"login": author, "id": int(_uid("user", author)[:6], 16), "type": "User"},
                    "committer": {"login": "web-flow", "id": 19864447, "type": "User"},
                    "parents": [{"sha": _uid(repo, "parent", d, c)[:40]}],
                }
            )
        if not weekend and day.date() not in HOLIDAYS:
            for _ in range(rng.randint(1, 3)):
                pr_number += 1
                created = day + timedelta(hours=10, minutes=rng.randint(0, 400))
                merged = created + timedelta(hours=rng.uniform(2, 60)) if rng.random() < 0.8 else None
                if merged and merged.date() > START + timedelta(DAYS - 1):
                    merged = None
                updated = merged or created + timedelta(hours=1)
                author = rng.choice(DEVELOPERS).split("@")[0]
                pulls.append(
                    {
                        "url": f"https://api.github.com/repos/{repo}/pulls/{pr_number}",
                        "id": 2_000_000_000 + pr_number * 7,
                        "node_id": f"PR_{pr_number}",
                        "html_url": f"https://github.com/{repo}/pull/{pr_number}",
                        "number": pr_number,
                        "state": "closed" if merged else "open",
                        "locked": False,
                        "title": "(title)",
                        "user": {"login": author, "id": int(_uid("user", author)[:6], 16), "type": "User"},
                        "body": None,
                        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "closed_at": merged.strftime("%Y-%m-%dT%H:%M:%SZ") if merged else None,
                        "merged_at": merged.strftime("%Y-%m-%dT%H:%M:%SZ") if merged else None,
                        "merge_commit_sha": _uid(repo, "merge", pr_number)[:40] if merged else None,
                        "draft": False,
                        "head": {"ref": f"feature/{pr_number}", "sha": _uid(repo, "head", pr_number)[:40]},
                        "base": {"ref": "main", "sha": _uid(repo, "base", pr_number)[:40]},
                        "author_association": "MEMBER",
                    }
                )
                if merged and rng.random() < 0.15:
                    events.append(
                        {
                            "id": 9_000_000_000 + pr_number,
                            "node_id": f"RE_{pr_number}",
                            "event": "reopened",
                            "actor": {"login": author},
                            "commit_id": None,
                            "created_at": (created + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "issue": {
                                "number": pr_number,
                                "title": "(title)",
                                "pull_request": {"url": f"https://api.github.com/repos/{repo}/pulls/{pr_number}"},
                            },
                        }
                    )
    # GitHub lists newest first; split into 100-item pages as github_sync stores them.
    for kind, items, key in (("pulls", pulls, "updated_at"), ("issue_events", events, "created_at")):
        items.sort(key=lambda item, key=key: item[key], reverse=True)
        for page, start in enumerate(range(0, max(len(items), 1), 100), 1):
            _write(
                f"github/{owner}/{name}/{kind}/page-{page:04d}.json", json.dumps(items[start : start + 100], indent=1)
            )
    commits.sort(key=lambda c: c["commit"]["author"]["date"], reverse=True)
    for page, start in enumerate(range(0, len(commits), 100), 1):
        _write(
            f"github/{owner}/{name}/commits/page-{page:04d}.json", json.dumps(commits[start : start + 100], indent=1)
        )


# ---- vendor usage reports and people (their own random stream: the trace and GitHub bytes above never change) ----
usage_rng = random.Random(20261201)
TEAMS = {"alice": "platform", "bob": "platform", "carol": "product", "dan": "product"}
COPILOT_USERS = ("alice", "bob")  # GitHub logins; Copilot reports per login
CLAUDE_USERS = ("alice@acme.dev", "carol@acme.dev", "dan@acme.dev")
CURSOR_USERS = ("bob@acme.dev", "dan@acme.dev")


def people() -> None:
    """config/people.json: each developer's e-mail and GitHub login, and their team."""
    entries = [
        {"person": login, "team": team, "emails": [f"{login}@acme.dev"], "github_logins": [login]}
        for login, team in TEAMS.items()
    ]
    _write("config/people.json", json.dumps(entries, indent=2) + "\n")


def _active(day: date) -> bool:
    return day not in HOLIDAYS and day.weekday() < 5 and usage_rng.random() < 0.9


def copilot_reports() -> None:
    """Copilot usage-metrics user reports: one 28-day NDJSON per four weeks, plus a 1-day report that re-delivers
    a day already in a 28-day report (the later one replaces it, never adds)."""
    for block in range(DAYS // 28):
        lines = []
        for d in range(block * 28, block * 28 + 28):
            day = START + timedelta(d)
            for login in COPILOT_USERS:
                if not _active(day):
                    continue
                suggested = int(40 * (1 + d / DAYS) + usage_rng.gauss(0, 8))
                added = max(0, int(suggested * usage_rng.uniform(0.25, 0.45)))
                lines.append(
                    {
                        "day": day.isoformat(),
                        "enterprise_id": "4821",
                        "organization_id": "96311",
                        "user_id": 1000 + COPILOT_USERS.index(login),
                        "user_login": login,
                        "user_initiated_interaction_count": usage_rng.randint(3, 14),
                        "code_generation_activity_count": suggested // 4,
                        "code_acceptance_activity_count": added // 4,
                        "loc_suggested_to_add_sum": max(0, suggested),
                        "loc_suggested_to_delete_sum": 0,
                        "loc_added_sum": added,
                        "loc_deleted_sum": added // 5,
                        "used_agent": False,
                        "used_chat": True,
                        "totals_by_ide": [{"ide": "vscode", "loc_added_sum": added}],
                    }
                )
        first, last = START + timedelta(block * 28), START + timedelta(block * 28 + 27)
        text = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
        _write(f"usage/copilot/users-28-day__{first}__{last}.ndjson", text)
    # The last block's final weekday again, as a 1-day report: same figures, one object later
    redelivered = [line for line in lines if line["day"] == lines[-1]["day"]]
    _write(
        f"usage/copilot/users-1-day__{lines[-1]['day']}.ndjson",
        "".join(json.dumps(line, sort_keys=True) + "\n" for line in redelivered),
    )


def claude_code_analytics() -> None:
    """Claude Code Analytics API pages, one object per week (each record is one actor's UTC day)."""
    for week in range(DAYS // 7):
        records = []
        for d in range(week * 7, week * 7 + 7):
            day = START + timedelta(d)
            for email in CLAUDE_USERS:
                if not _active(day):
                    continue
                tokens_in = int(30000 * (1 + d / DAYS) * usage_rng.uniform(0.5, 1.5))
                records.append(
                    {
                        "date": f"{day}T00:00:00Z",
                        "actor": {"type": "user_actor", "email_address": email},
                        "organization_id": "12345678-1234-5678-1234-567812345678",
                        "customer_type": "api",
                        "terminal_type": "vscode",
                        "core_metrics": {
                            "num_sessions": usage_rng.randint(1, 5),
                            "lines_of_code": {"added": usage_rng.randint(20, 400), "removed": usage_rng.randint(0, 90)},
                            "commits_by_claude_code": usage_rng.randint(0, 4),
                            "pull_requests_by_claude_code": usage_rng.randint(0, 1),
                        },
                        "tool_actions": {
                            "edit_tool": {"accepted": usage_rng.randint(5, 30), "rejected": usage_rng.randint(0, 4)},
                            "write_tool": {"accepted": usage_rng.randint(0, 8), "rejected": usage_rng.randint(0, 2)},
                        },
                        "model_breakdown": [
                            {
                                "model": MODELS[0],
                                "tokens": {
                                    "input": tokens_in,
                                    "output": tokens_in // 6,
                                    "cache_read": tokens_in * 4,
                                    "cache_creation": tokens_in // 3,
                                },
                                "estimated_cost": {"amount": tokens_in // 250, "currency": "USD"},
                            }
                        ],
                    }
                )
        body = {"data": records, "has_more": False, "next_page": None}
        _write(f"usage/claude_code/week-{week + 1:02d}__{START + timedelta(week * 7)}.json", json.dumps(body, indent=1))


def cursor_reports() -> None:
    """Cursor Admin API daily usage (30 days per call) and AI Code Tracking commits of some acme/api commits."""
    for block in range(0, DAYS, 30):
        data = []
        for d in range(block, min(block + 30, DAYS)):
            day = START + timedelta(d)
            midnight = int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000)
            for email in CURSOR_USERS:
                active = _active(day)
                added = usage_rng.randint(10, 300) if active else 0
                data.append(
                    {
                        "userId": 500 + CURSOR_USERS.index(email),
                        "email": email,
                        "day": day.isoformat(),
                        "date": midnight,
                        "isActive": active,
                        "totalLinesAdded": added * 2,
                        "totalLinesDeleted": added // 3,
                        "acceptedLinesAdded": added,
                        "acceptedLinesDeleted": added // 6,
                        "totalApplies": added // 10,
                        "totalAccepts": added // 12,
                        "totalRejects": added // 40,
                        "totalTabsShown": added * 3 if active else 0,
                        "totalTabsAccepted": added // 2,
                        "composerRequests": added // 20,
                        "chatRequests": added // 30,
                        "agentRequests": added // 50,
                        "cmdkUsages": added // 60,
                        "subscriptionIncludedReqs": added // 20,
                        "apiKeyReqs": 0,
                        "usageBasedReqs": 0,
                        "bugbotUsages": 0,
                        "mostUsedModel": "claude-4.5-sonnet" if active else None,
                        "clientVersion": "2.1.0" if active else None,
                    }
                )
        first = START + timedelta(block)
        body = {"data": data, "period": {"startDate": data[0]["date"], "endDate": data[-1]["date"]}}
        _write(f"usage/cursor/daily-usage__{first}.json", json.dumps(body, indent=1))
    commits = json.loads((OUT / "github/acme/api/commits/page-0001.json").read_text())
    items = []
    for commit in commits[:: max(1, len(commits) // 25)][:25]:
        total = usage_rng.randint(20, 200)
        tab, composer = usage_rng.randint(0, total // 3), usage_rng.randint(0, total // 2)
        items.append(
            {
                "commitHash": commit["sha"],
                "userId": "user_" + _uid("cursor", commit["commit"]["author"]["email"])[:20],
                "userEmail": commit["commit"]["author"]["email"],
                "repoName": "acme/api",
                "branchName": "main",
                "isPrimaryBranch": True,
                "totalLinesAdded": total,
                "totalLinesDeleted": total // 4,
                "tabLinesAdded": tab,
                "tabLinesDeleted": 0,
                "composerLinesAdded": composer,
                "composerLinesDeleted": 0,
                "nonAiLinesAdded": total - tab - composer,
                "nonAiLinesDeleted": total // 4,
                "message": None,
                "commitTs": commit["commit"]["author"]["date"],
                "createdAt": commit["commit"]["committer"]["date"],
            }
        )
    _write(
        "usage/cursor/ai-code-commits__page-1.json",
        json.dumps({"items": items, "totalCount": len(items), "page": 1, "pageSize": 100}, indent=1),
    )


# ---- work on pull requests: each PR's commits and the Claude Code sessions on its branch (their own stream) ----
pr_rng = random.Random(20261202)


def _load(relative: str) -> list[dict]:
    return [item for path in sorted((OUT / relative).glob("page-*.json")) for item in json.loads(path.read_text())]


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def pull_request_work(repo: str) -> None:
    """Per PR: its commits page as github_sync stores it (`pull_commits/<n>/`, messages replaced by the AI tools their
    trailers name) and, for the PRs written with Claude Code, sessions on the PR's branch (`gitBranch` = head ref)
    in one transcript per author. Quick PRs were more often written with AI (so the report has a difference to
    show), and acme/web used little AI before its rollout."""
    owner, name = repo.split("/")
    commits = _load(f"github/{owner}/{name}/commits")
    rollout = datetime.combine(START + timedelta(WEB_ROLLOUT_DAY), datetime.min.time(), UTC)
    sessions: dict[str, list[dict]] = {}
    for pull in _load(f"github/{owner}/{name}/pulls"):
        created = _ts(pull["created_at"])
        end = _ts(pull["merged_at"]) if pull["merged_at"] else created + timedelta(days=3)
        author = pull["user"]["login"]
        chance = 0.7 if (end - created) < timedelta(hours=20) else 0.25
        if repo == "acme/web" and created < rollout:
            chance *= 0.3
        with_ai = pr_rng.random() < chance
        inside = [c for c in commits if created <= _ts(c["commit"]["author"]["date"]) <= end][:3]
        listed = []
        for commit in inside or [_branch_commit(repo, pull, author, created)]:
            record = {**commit, "commit": {k: v for k, v in commit["commit"].items() if k != "message"}}
            record["prodlens_ai_coauthors"] = ["claude_code"] if with_ai and pr_rng.random() < 0.8 else []
            listed.append(record)
        _write(f"github/{owner}/{name}/pull_commits/{pull['number']}/page-0001.json", json.dumps(listed, indent=1))
        if with_ai:
            sessions.setdefault(author, []).extend(_branch_session(pull, created, author))
    for author, lines in sorted(sessions.items()):
        _write(
            f"traces/claude/{name}/branches-{author}.jsonl",
            "\n".join(json.dumps(line) for line in lines) + "\n",
            {"repo": repo, "developer": f"{author}@acme.dev"},
        )


def _branch_commit(repo: str, pull: dict, author: str, created: datetime) -> dict:
    sha = _uid(repo, "branch-commit", pull["number"])[:40]
    when = (created + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "sha": sha,
        "commit": {
            "author": {"name": author, "email": f"{author}@acme.dev", "date": when},
            "committer": {"name": author, "email": f"{author}@acme.dev", "date": when},
        },
        "author": {"login": author, "type": "User"},
        "parents": [{"sha": _uid(repo, "branch-parent", pull["number"])[:40]}],
    }


def _branch_session(pull: dict, created: datetime, author: str) -> list[dict]:
    session = str(_uid("session", pull["url"]))[:36]
    lines = []
    for n, offset in enumerate((-90, -40, 20)):
        ts = created + timedelta(minutes=offset)
        lines.append(
            {
                "type": "assistant",
                "sessionId": session,
                "cwd": f"/home/{author}/src/{pull['url'].split('/')[-3]}",
                "gitBranch": pull["head"]["ref"],
                "version": "2.0.46",
                "timestamp": _iso(ts),
                "requestId": f"req_011C{_uid('branch-req', session, n)[:20]}",
                "uuid": _uid("branch-a", session, n)[:36],
                "message": {
                    "id": f"msg_01{_uid('branch-msg', session, n)[:22]}",
                    "type": "message",
                    "role": "assistant",
                    "model": MODELS[0],
                    "content": [{"type": "text", "text": "(response text)"}],
                    "usage": {
                        "input_tokens": 20 + n,
                        "output_tokens": 300 + 40 * n,
                        "cache_creation_input_tokens": 1200,
                        "cache_read_input_tokens": 18000 + 500 * n,
                    },
                },
            }
        )
    return lines


def main() -> None:
    requests = daily_requests()
    for repo in REPOS:
        _write(f"traces/seed/{repo.replace('/', '-')}.jsonl", seed_lines(repo, requests[repo]))
        github_pages(repo, requests[repo])
    litellm_payloads("acme/api")
    otlp_export("acme/web")
    claude_transcript("acme/web", "carol@acme.dev")
    # Bad input is part of real life: a truncated line and a record with no timestamp become dead letters.
    _write(
        "traces/seed/broken-upload.jsonl",
        '{"timestamp": "2026-09-03T10:00:00Z", "usage": {"input_tokens": 10, "output_tokens": 5}, '
        '"metadata": {"repo": "acme/api"}}\n'
        '{"timestamp": "2026-09-03T10:05:00Z", "usage": {"input_tok\n'
        '{"usage": {"input_tokens": 10, "output_tokens": 5}, "metadata": {"repo": "acme/api"}}\n',
    )
    people()
    _write(
        "config/rollouts.json",
        json.dumps([{"unit": "acme/web", "date": str(START + timedelta(WEB_ROLLOUT_DAY))}]) + "\n",
    )
    copilot_reports()
    claude_code_analytics()
    cursor_reports()
    for repo in REPOS:
        pull_request_work(repo)


if __name__ == "__main__":
    main()
