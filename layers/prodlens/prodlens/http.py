"""What the API clients (github.client, vendors.client) share: the clock, the response, one GET on urllib, and
the deadline every wait and request is checked against. No retry or rate-limit policy here: each API has its own.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch (rate-limit resets are epoch seconds)."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL = re.compile(r'rel\s*=\s*"?([^";]+)"?')


def parse_link_header(value: str) -> dict[str, str]:
    """`<url>; rel="next", <url>; rel="last"` -> {"next": url, "last": url} (a rel may list several names)."""
    links: dict[str, str] = {}
    for match in _LINK.finditer(value or ""):
        url, params = match.group(1), match.group(2)
        rel = _REL.search(params)
        if rel:
            for name in rel.group(1).split():
                links.setdefault(name, url)
    return links


@dataclass(frozen=True)
class Response:
    status: int  # 0: no HTTP answer (connection failed, timed out)
    url: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def next_url(self) -> str | None:
        return parse_link_header(self.headers.get("link", "")).get("next")


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def get(opener: urllib.request.OpenerDirector, url: str, headers: Mapping[str, str], timeout: float) -> Response:
    """One GET: any HTTP answer (errors included) as a Response; a network failure as status 0."""
    request = urllib.request.Request(url, headers=dict(headers), method="GET")
    try:
        with opener.open(request, timeout=timeout) as raw:
            return Response(raw.status, raw.geturl(), _lower(raw.headers), raw.read())
    except urllib.error.HTTPError as err:
        with err:
            body = err.read() if err.fp is not None else b""
        return Response(err.code, url, _lower(err.headers), body)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        return Response(0, url, {}, str(getattr(err, "reason", err)).encode())


def error_message(body: bytes) -> str:
    """The `message` of a JSON error body, else its first characters."""
    text = body[:300].decode("utf-8", "replace")
    match = re.search(r'"message"\s*:\s*"([^"]*)"', text)
    return match.group(1) if match else text.strip()[:120]


def _lower(headers: Mapping[str, str] | None) -> dict[str, str]:
    if headers is None:
        return {}
    return {name.lower(): value for name, value in headers.items()}


class DeadlineMixin:
    """Time budget of a client: `deadline` (epoch seconds or None) less `_reserve_s` bounds every wait and
    request. Needs `_clock`, `_timeout_s`, `_reserve_s`, `deadline`, `stats.waited_s`, and `_out_of_time`, the
    client's exception for "no time left"; `_back_off` also `_max_attempts`, `_backoff_s` and `stats.retries`."""

    deadline: float | None
    _clock: Clock
    _timeout_s: float
    _reserve_s: float
    _max_attempts: int
    _backoff_s: float
    _out_of_time: type[Exception]
    stats: Any

    def _time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - self._reserve_s - self._clock.time()

    def _fits(self, wait_s: float) -> bool:
        left = self._time_left()
        return left is None or wait_s <= left

    def _check_time_left(self) -> None:
        left = self._time_left()
        if left is not None and left <= 1.0:
            raise self._out_of_time("no time left for another request")

    def _request_timeout(self) -> float:
        left = self._time_left()
        return self._timeout_s if left is None else max(1.0, min(self._timeout_s, left))

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.waited_s += seconds
            self._clock.sleep(seconds)

    def _back_off(self, attempt: int, give_up: Exception, retrying: str) -> None:
        """Wait before retry `attempt` of a 5xx or network failure, twice as long each time: `give_up` is raised
        after the last attempt, "no time left" when the wait does not fit the deadline."""
        if attempt >= self._max_attempts:
            raise give_up
        delay = self._backoff_s * 2 ** (attempt - 1)
        if not self._fits(delay):
            raise self._out_of_time(f"no time left to retry {retrying}")
        self.stats.retries += 1
        self._wait(delay)
