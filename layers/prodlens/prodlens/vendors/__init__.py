"""The vendor usage fetchers: Copilot usage metrics reports and Claude Code analytics pages, stored unmodified.

No boto3 and no environment reads here: callers pass the token, a `PageSink` and a `UsageSyncState`.

Modules: `client` (an HTTP client on urllib: the vendor's auth headers sent only to its API origin, 429 with
Retry-After waited out within bounds, 5xx retried with back-off, typed errors, an injectable clock),
`sync` (the state port, the day window and the result), `copilot` (a day's report and its download links),
`claude_code` (a day's pages), `local` (`prodlens usage-sync`: the same code on a local folder).
"""
