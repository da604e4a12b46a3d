"""A small GitHub REST client on urllib: auth headers, conditional GETs, Link paging, rate limits, retries.

Waits (rate limits, 5xx back-off) go through an injectable `Clock`, so tests never sleep for real, and
every wait is checked against the caller's deadline: a wait that does not fit raises `RateLimited` /
`OutOfTime` instead of overrunning the invocation. The token is sent only to the API's own origin and
never appears in logs, exceptions or reprs.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urljoin

from prodlens import __version__, http
from prodlens.errors import ProdLensError
from prodlens.http import Clock, DeadlineMixin, Response, SystemClock, error_message, origin

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
USER_AGENT = f"prodlens-github-sync/{__version__}"

# GitHub: with a secondary limit and no Retry-After, wait at least a minute before retrying.
SECONDARY_DEFAULT_WAIT_S = 60.0


class GithubError(ProdLensError):
    """Base of the fetcher's errors."""


class GithubHttpError(GithubError):
    """A response that a retry will not fix (401, 404, 422, ...), or a 5xx/network failure after all retries."""

    def __init__(self, status: int, url: str, message: str = "") -> None:
        super().__init__(f"GitHub answered {status} for {url}" + (f": {message}" if message else ""))
        self.status = status
        self.url = url


class RateLimited(GithubError):
    """A rate limit whose wait does not fit in the time left; `retry_at` is when the API accepts requests again."""

    def __init__(self, kind: str, retry_at: float) -> None:
        super().__init__(f"{kind} rate limit until epoch {retry_at:.0f}")
        self.kind = kind
        self.retry_at = retry_at


class OutOfTime(GithubError):
    """Too little time is left in the invocation to start another request."""


@dataclass
class ClientStats:
    requests: int = 0
    not_modified: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    waited_s: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects (renamed repositories answer 301) only within the API's origin, so the token stays there."""

    def __init__(self, allowed: tuple[str, str]) -> None:
        self._origin = allowed

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 - urllib's signature
        if origin(newurl) != self._origin:
            raise GithubHttpError(code, req.full_url, "redirect to another origin refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class GithubClient(DeadlineMixin):
    """GETs against one GitHub API origin.

    `deadline` (epoch seconds, optional) bounds every wait and request: a rate-limit wait or back-off that
    would end after `deadline - reserve_s` raises instead of sleeping. Once a primary or secondary limit is
    known to last past the deadline, further calls raise `RateLimited` without touching the network.
    """

    _out_of_time = OutOfTime

    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        clock: Clock | None = None,
        deadline: float | None = None,
        timeout_s: float = 20.0,
        max_attempts: int = 4,
        max_rate_limit_waits: int = 5,
        backoff_s: float = 1.0,
        reserve_s: float = 5.0,
        user_agent: str = USER_AGENT,
    ) -> None:
        if not token:
            raise GithubError("a GitHub token is required")
        self.api_url = api_url.rstrip("/")
        self._origin = origin(self.api_url)
        self._token = token
        self._clock = clock or SystemClock()
        self.deadline = deadline
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._max_rate_limit_waits = max_rate_limit_waits
        self._backoff_s = backoff_s
        self._reserve_s = reserve_s
        self._user_agent = user_agent
        self._blocked: RateLimited | None = None
        self._opener = urllib.request.build_opener(_SameOriginRedirects(self._origin))
        self.stats = ClientStats()

    def __repr__(self) -> str:
        return f"GithubClient(api_url={self.api_url!r})"

    def url(self, path: str) -> str:
        return urljoin(self.api_url + "/", path.lstrip("/"))

    def get(self, url: str, etag: str | None = None) -> Response:
        """GET `url`; 200 and 304 are returned, rate limits and 5xx are waited out or raised."""
        if origin(url) != self._origin:
            raise GithubHttpError(0, url, "URL outside the configured API origin refused")
        attempt = 0
        limited = 0
        while True:
            self._wait_out_block()
            self._check_time_left()
            response = self._send(url, etag)
            status = response.status
            if status in (200, 304):
                return response
            limit = self._rate_limit(response)
            if limit is not None:
                # A rate-limited page is retried after the wait, never skipped; a server that keeps limiting
                # the same request past a few waits is reported like any other failure.
                limited += 1
                if limited > self._max_rate_limit_waits:
                    raise limit
                self._blocked = limit
            elif status >= 500 or status == 0:
                attempt += 1
                give_up = GithubHttpError(status, url, "giving up after retries")
                self._back_off(attempt, give_up, f"{url} after {status}")
            else:
                raise GithubHttpError(status, url, error_message(response.body))

    def _wait_out_block(self) -> None:
        """Sleep until a known rate limit lifts, or raise it when it lasts past the deadline."""
        if self._blocked is None:
            return
        if not self._fits(self._blocked.retry_at - self._clock.time()):
            raise self._blocked
        self._wait(self._blocked.retry_at - self._clock.time())
        self.stats.rate_limit_waits += 1
        self._blocked = None

    def _send(self, url: str, etag: str | None) -> Response:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": self._user_agent,
        }
        if etag:
            headers["If-None-Match"] = etag
        self.stats.requests += 1
        response = http.get(self._opener, url, headers, self._request_timeout())
        self.stats.by_status[response.status] = self.stats.by_status.get(response.status, 0) + 1
        if response.status == 304:
            self.stats.not_modified += 1
        return response

    def _rate_limit(self, response: Response) -> RateLimited | None:
        if response.status not in (403, 429):
            return None
        headers = response.headers
        now = self._clock.time()
        retry_after = headers.get("retry-after")
        if retry_after is not None:
            try:
                return RateLimited("secondary", now + max(0.0, float(retry_after)))
            except ValueError:
                return RateLimited("secondary", now + SECONDARY_DEFAULT_WAIT_S)
        if headers.get("x-ratelimit-remaining") == "0":
            try:
                reset = float(headers.get("x-ratelimit-reset", ""))
            except ValueError:
                reset = now + SECONDARY_DEFAULT_WAIT_S
            return RateLimited("primary", max(reset, now) + 1.0)
        if response.status == 429 or b"secondary rate limit" in response.body.lower():
            return RateLimited("secondary", now + SECONDARY_DEFAULT_WAIT_S)
        return None
