"""A real HTTP server on loopback that behaves like the two vendor usage APIs ProdLens fetches.

- Copilot usage metrics: `GET /orgs/{org}/copilot/metrics/reports/users-1-day?day=D` (and `/enterprises/...`)
  answers the recorded `{download_links, report_day}` shape with links back to this server
  (`/download/<generation>/<day>/<n>.ndjson?sig=...`), which serve NDJSON built from the recorded users report;
  a day without data answers 404 (not ready).
- Claude Code analytics: `GET /v1/organizations/usage_report/claude_code?starting_at=D&limit=&page=` pages the
  recorded records with `has_more` / `next_page` (the last page's `next_page` null, or missing).

Scripted faults (status, headers, body) answer chosen requests instead. Every request is logged with whether
it carried exactly the credentials it should: the API's headers on the API, nothing on a download link.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "usage"
COPILOT_TOKEN = "ghp_copilot_token_never_logged_0123456789"
ADMIN_KEY = "sk-ant-admin01-test-key-never-logged-0123456789"
# 2026-03-10 06:00 UTC: "yesterday" is 2026-03-09.
NOW = datetime(2026, 3, 10, 6, 0, tzinfo=UTC).timestamp()
TODAY = date(2026, 3, 10)


def copilot_lines(day: str) -> list[dict[str, Any]]:
    """The recorded users report's lines, moved to `day`."""
    text = (FIXTURES / "copilot" / "users-1-day__2025-10-01.ndjson").read_text(encoding="utf-8")
    return [{**json.loads(line), "day": day} for line in text.splitlines() if line.strip()]


def claude_records(day: str) -> list[dict[str, Any]]:
    """Every record of the recorded Claude Code pages, moved to `day`."""
    records: list[dict[str, Any]] = []
    for name in (
        "anthropic-api-ref__claude_code_usage_report__page1.json",
        "composed__claude_code_usage_report__page2.json",
        "anthropic-docs__claude_code_usage_report__guide-example.json",
    ):
        page = json.loads((FIXTURES / "claude_code" / name).read_text(encoding="utf-8"))
        records.extend({**copy.deepcopy(r), "date": f"{day}T00:00:00Z"} for r in page["data"])
    return records


@dataclass
class Fault:
    """Answer `times` requests whose path starts with `path_prefix` (and whose query has `query`) with this."""

    path_prefix: str
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"message": "Server Error"}'
    times: int = 1
    query: dict[str, str] = field(default_factory=dict)

    def matches(self, path: str, query: dict[str, str]) -> bool:
        return (
            self.times > 0
            and path.startswith(self.path_prefix)
            and all(query.get(k) == v for k, v in self.query.items())
        )


@dataclass
class Logged:
    path: str
    query: dict[str, str]
    status: int
    credentials_ok: bool


class FakeVendors:
    def __init__(self, page_size: int = 2) -> None:
        self.copilot_token = COPILOT_TOKEN
        self.admin_key = ADMIN_KEY
        self.page_size = page_size
        self.copilot_days: dict[str, list[bytes]] = {}  # day -> NDJSON bodies, one per download link
        self.claude_days: dict[str, list[dict[str, Any]]] = {}  # day -> records
        self.claude_etags = False
        self.claude_omit_next_page = False  # the last page has no next_page key at all
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self._generation = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- data ---------------------------------------------------------------------------------------------------

    def add_copilot_day(self, day: str, links: int = 2) -> list[bytes]:
        """The day's users report split over `links` NDJSON files."""
        lines = [json.dumps(line, sort_keys=True) for line in copilot_lines(day)]
        bodies = [("\n".join(lines[i::links]) + "\n").encode() for i in range(links)]
        self.copilot_days[day] = bodies
        return bodies

    def add_claude_day(self, day: str) -> list[dict[str, Any]]:
        self.claude_days[day] = claude_records(day)
        return self.claude_days[day]

    # -- server -------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeVendors:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def violations(self) -> list[Logged]:
        return [entry for entry in self.log if not entry.credentials_ok]

    def requests(self, prefix: str = "/") -> list[Logged]:
        return [entry for entry in self.log if entry.path.startswith(prefix)]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                fake._serve(self)

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        headers = handler.headers
        with self._lock:
            if parts.path.startswith("/download/"):
                credentials_ok = not any(h in headers for h in ("Authorization", "x-api-key"))
                status, out, body = self._download(parts.path, query)
            elif parts.path.startswith("/v1/"):
                credentials_ok = headers.get("x-api-key") is not None and headers.get("Authorization") is None
                credentials_ok = credentials_ok and headers.get("anthropic-version") == "2023-06-01"
                status, out, body = self._claude(parts.path, query, headers)
            else:
                credentials_ok = headers.get("Authorization", "").startswith("Bearer ") and "x-api-key" not in headers
                credentials_ok = credentials_ok and headers.get("X-GitHub-Api-Version") == "2026-03-10"
                status, out, body = self._copilot(parts.path, query, headers)
            self.log.append(Logged(parts.path, query, status, credentials_ok and bool(headers.get("User-Agent"))))
        handler.send_response(status)
        for name, value in out.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _fault(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes] | None:
        for fault in self.faults:
            if fault.matches(path, query):
                fault.times -= 1
                return fault.status, {"Content-Type": "application/json", **fault.headers}, fault.body
        return None

    def _copilot(self, path: str, query: dict[str, str], headers: Any) -> tuple[int, dict[str, str], bytes]:
        if headers.get("Authorization") != f"Bearer {self.copilot_token}":
            return 401, {}, b'{"message": "Bad credentials", "status": "401"}'
        fault = self._fault(path, query)
        if fault is not None:
            return fault
        segments = path.strip("/").split("/")
        if (
            len(segments) != 6
            or segments[0] not in ("orgs", "enterprises")
            or segments[2:5]
            != [
                "copilot",
                "metrics",
                "reports",
            ]
        ):
            return 404, {}, b'{"message": "Not Found"}'
        day = query.get("day", "")
        bodies = self.copilot_days.get(day)
        if bodies is None:
            return 404, {}, b'{"message": "Not Found"}'
        self._generation += 1
        links = [
            f"{self.url}/download/{self._generation}/{day}/{n}.ndjson?sig={hashlib.sha256(f'{day}{n}'.encode()).hexdigest()[:16]}"
            for n in range(1, len(bodies) + 1)
        ]
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps({"download_links": links, "report_day": day}).encode(),
        )

    def _download(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        fault = self._fault(path, query)
        if fault is not None:
            return fault
        try:
            _, _, _generation, day, name = path.split("/")
            bodies = self.copilot_days[day]
            body = bodies[int(name.split(".")[0]) - 1]
        except (ValueError, KeyError, IndexError):
            return 404, {}, b"<Error><Code>BlobNotFound</Code></Error>"
        if "sig" not in query:
            return 403, {}, b"<Error><Code>AuthenticationFailed</Code></Error>"
        return 200, {"Content-Type": "application/x-ndjson"}, body

    def _claude(self, path: str, query: dict[str, str], headers: Any) -> tuple[int, dict[str, str], bytes]:
        if headers.get("x-api-key") != self.admin_key:
            body = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
            return 401, {"Content-Type": "application/json"}, json.dumps(body).encode()
        fault = self._fault(path, query)
        if fault is not None:
            return fault
        if path != "/v1/organizations/usage_report/claude_code" or "starting_at" not in query:
            return 404, {}, b'{"type": "error", "error": {"type": "not_found_error", "message": "Not found"}}'
        day = query["starting_at"]
        records = self.claude_days.get(day, [])
        index = int(query["page"].removeprefix(f"page_{day}_")) if "page" in query else 0
        size = min(int(query.get("limit", "20")), self.page_size)
        chunk = records[index * size : (index + 1) * size]
        has_more = (index + 1) * size < len(records)
        page: dict[str, Any] = {"data": chunk, "has_more": has_more, "next_page": None}
        if has_more:
            page["next_page"] = f"page_{day}_{index + 1}"
        elif self.claude_omit_next_page:
            del page["next_page"]
        body = json.dumps(page, indent=2).encode()
        out = {"Content-Type": "application/json"}
        if self.claude_etags:
            etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
            out["ETag"] = etag
            if headers.get("If-None-Match") == etag:
                return 304, {"ETag": etag}, b""
        return 200, out, body
