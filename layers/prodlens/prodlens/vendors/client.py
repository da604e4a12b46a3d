"""A small HTTP client for the vendors' usage APIs on urllib: auth headers, rate limits, retries, typed errors.

One client talks to one API origin with that vendor's headers (`copilot_client`, `claude_code_client`). The
credentials go only to that origin: redirects elsewhere are refused, and `download` (Copilot's signed report
links, which live on another host) sends no credential at all.

Waits (429 Retry-After, 5xx back-off) go through an injectable `Clock`, so tests never sleep for real. A wait
is bounded twice: by `max_wait_s` (a Retry-After longer than that is not waited in this run) and by the
caller's deadline. A wait that does not fit raises `RateLimited` / `OutOfTime`, so the run stops cleanly and
the next one resumes from the checkpoint. The token never appears in logs, exceptions or reprs.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from prodlens import __version__, http
from prodlens.errors import ProdLensError
from prodlens.http import Clock, DeadlineMixin, Response, SystemClock, error_message, origin

COPILOT_API_URL = "https://api.github.com"
COPILOT_API_VERSION = "2026-03-10"
CLAUDE_API_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
USER_AGENT = f"prodlens-usage-sync/{__version__}"

# A 429 without Retry-After: wait this long before asking again.
DEFAULT_RETRY_AFTER_S = 60.0


class VendorError(ProdLensError):
    """Base of the usage fetchers' errors."""


class VendorHttpError(VendorError):
    """A response that a retry will not fix (404, 422, ...), or a 5xx/network failure after all retries."""

    def __init__(self, status: int, url: str, message: str = "") -> None:
        super().__init__(f"{_redact(url)} answered {status}" + (f": {message}" if message else ""))
        self.status = status
        self.url = url


class AuthError(VendorHttpError):
    """401/403 from the API: the token is missing, revoked or lacks the permission. The run fails for the source."""


class RateLimited(VendorError):
    """A rate limit whose wait does not fit (too long for the run); `retry_at` is when the API accepts requests."""

    def __init__(self, retry_at: float) -> None:
        super().__init__(f"rate limited until epoch {retry_at:.0f}")
        self.retry_at = retry_at


class OutOfTime(VendorError):
    """Too little time is left in the invocation to start another request or wait."""


@dataclass
class ClientStats:
    requests: int = 0
    downloads: int = 0
    not_modified: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    waited_s: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)


def _redact(url: str) -> str:
    """A URL without its query: signed links carry their signature there."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else url


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within the API's origin, so the credentials stay there."""

    def __init__(self, allowed: tuple[str, str]) -> None:
        self._origin = allowed

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 - urllib's signature
        if origin(newurl) != self._origin:
            raise VendorHttpError(code, req.full_url, "redirect to another origin refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class VendorClient(DeadlineMixin):
    """GETs against one vendor API origin (with `headers`) and credential-free downloads of signed links.

    `deadline` (epoch seconds, optional) bounds every wait and request: a wait that would end after
    `deadline - reserve_s`, or is longer than `max_wait_s`, raises instead of sleeping.
    """

    _out_of_time = OutOfTime

    def __init__(
        self,
        api_url: str,
        headers: Mapping[str, str],
        *,
        clock: Clock | None = None,
        deadline: float | None = None,
        timeout_s: float = 30.0,
        max_attempts: int = 4,
        max_rate_limit_waits: int = 5,
        max_wait_s: float = 300.0,
        backoff_s: float = 1.0,
        reserve_s: float = 5.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._origin = origin(self.api_url)
        self._headers = {"User-Agent": USER_AGENT, **headers}
        self._clock = clock or SystemClock()
        self.deadline = deadline
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._max_rate_limit_waits = max_rate_limit_waits
        self._max_wait_s = max_wait_s
        self._backoff_s = backoff_s
        self._reserve_s = reserve_s
        self._api_opener = urllib.request.build_opener(_SameOriginRedirects(self._origin))
        self._link_opener = urllib.request.build_opener()
        self.stats = ClientStats()

    def __repr__(self) -> str:
        return f"VendorClient(api_url={self.api_url!r})"

    @property
    def clock(self) -> Clock:
        return self._clock

    def url(self, path: str) -> str:
        return urljoin(self.api_url + "/", path.lstrip("/"))

    def get(self, url: str, etag: str | None = None) -> Response:
        """GET an API URL with the credentials. 200, 204 and 304 are returned; 401/403 raise `AuthError`, other
        4xx `VendorHttpError`; 429 and 5xx are waited out or raised."""
        if origin(url) != self._origin:
            raise VendorHttpError(0, url, "URL outside the configured API origin refused")
        headers = dict(self._headers)
        if etag:
            headers["If-None-Match"] = etag
        return self._fetch(url, headers, self._api_opener, api=True)

    def download(self, url: str) -> Response:
        """GET a signed link without any credential. 200 is returned; 403/404/410 (an expired or unknown link)
        raise `VendorHttpError`; 429 and 5xx are waited out or raised."""
        if urlsplit(url).scheme.lower() not in ("https", "http"):
            raise VendorHttpError(0, url, "not an http(s) link")
        return self._fetch(url, {"User-Agent": USER_AGENT}, self._link_opener, api=False)

    def _fetch(self, url: str, headers: dict[str, str], opener: urllib.request.OpenerDirector, api: bool) -> Response:
        attempt = 0
        limited = 0
        while True:
            self._check_time_left()
            response = self._send(url, headers, opener, api)
            status = response.status
            if status in (200, 204, 304) and (api or status == 200):
                return response
            retry_at = self._rate_limit(response, api)
            if retry_at is not None:
                limited += 1
                wait = retry_at - self._clock.time()
                if limited > self._max_rate_limit_waits or wait > self._max_wait_s or not self._fits(wait):
                    raise RateLimited(retry_at)
                self.stats.rate_limit_waits += 1
                self._wait(wait)
                continue
            if status >= 500 or status == 0:
                attempt += 1
                give_up = VendorHttpError(status, url, "giving up after retries")
                self._back_off(attempt, give_up, f"{_redact(url)} after {status}")
                continue
            if api and status in (401, 403):
                raise AuthError(status, url, error_message(response.body))
            raise VendorHttpError(status, url, error_message(response.body) if api else "")

    def _send(self, url: str, headers: dict[str, str], opener: urllib.request.OpenerDirector, api: bool) -> Response:
        if api:
            self.stats.requests += 1
        else:
            self.stats.downloads += 1
        response = http.get(opener, url, headers, self._request_timeout())
        self.stats.by_status[response.status] = self.stats.by_status.get(response.status, 0) + 1
        if response.status == 304:
            self.stats.not_modified += 1
        return response

    def _rate_limit(self, response: Response, api: bool) -> float | None:
        """When the API accepts requests again (epoch seconds) if `response` is a rate limit, else None.

        429 always; 403 only from the API with GitHub's `x-ratelimit-remaining: 0` or a Retry-After (a plain
        403 is a permission problem, and on a signed link it means the link expired).
        """
        headers = response.headers
        status = response.status
        if status != 429 and not (
            api and status == 403 and (headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers)
        ):
            return None
        now = self._clock.time()
        retry_after = headers.get("retry-after")
        if retry_after is not None:
            return now + _retry_after_s(retry_after, now)
        if headers.get("x-ratelimit-remaining") == "0":
            try:
                return max(float(headers.get("x-ratelimit-reset", "")), now) + 1.0
            except ValueError:
                pass
        return now + DEFAULT_RETRY_AFTER_S


def _retry_after_s(value: str, now: float) -> float:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date; unreadable -> the default wait."""
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_S


def copilot_client(token: str, api_url: str = COPILOT_API_URL, **options: object) -> VendorClient:
    """A client for GitHub's Copilot usage metrics API (a token with the Copilot metrics read permission)."""
    if not token:
        raise AuthError(0, api_url, "a GitHub token is required (COPILOT_TOKEN)")
    headers = {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {token}",
        "X-GitHub-Api-Version": COPILOT_API_VERSION,
    }
    return VendorClient(api_url, headers, **options)  # type: ignore[arg-type]


def claude_code_client(admin_key: str, api_url: str = CLAUDE_API_URL, **options: object) -> VendorClient:
    """A client for Anthropic's Admin API (an admin key, `sk-ant-admin...`)."""
    if not admin_key:
        raise AuthError(0, api_url, "an Anthropic admin key is required (ANTHROPIC_ADMIN_KEY)")
    headers = {"x-api-key": admin_key, "anthropic-version": ANTHROPIC_VERSION, "Accept": "application/json"}
    return VendorClient(api_url, headers, **options)  # type: ignore[arg-type]
