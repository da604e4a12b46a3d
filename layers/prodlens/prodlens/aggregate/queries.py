"""The aggregate SQL (DuckDB dialect), one readable constant per derived table.

Every query reads temp tables that prodlens.aggregate.engine.load_table built from local Parquet files,
one column per column of the table's current definition plus its partition columns. Definitions follow
docs/metrics.md exactly; output types are cast to the schema by the writer.
"""

from prodlens.schema import USAGE_MEASURES

# daily_session_metrics: one row per (event_date, repo) with at least one trace.
# quantile_cont is linear interpolation between closest ranks, the same as numpy.percentile's default.
# Floating-point sums are ordered by value, so the result does not depend on file or row order (a day
# recomputed from the same rows is bit-identical, whichever objects arrived first).
DAILY_SESSION_METRICS = """
SELECT
    event_date,
    repo,
    count(*)                                    AS request_count,
    count(DISTINCT session_id)                  AS session_count,
    count(DISTINCT developer_id)                AS developer_count,
    coalesce(sum(tokens_in), 0)                 AS tokens_in,
    coalesce(sum(tokens_out), 0)                AS tokens_out,
    coalesce(sum(cache_read_tokens), 0)         AS cache_read_tokens,
    coalesce(sum(cache_write_tokens), 0)        AS cache_write_tokens,
    coalesce(sum(total_tokens), 0)              AS total_tokens,
    count(*) FILTER (WHERE accepted_flag)       AS accepted_count,
    count(accepted_flag)                        AS decided_count,
    count(*) FILTER (WHERE is_error)            AS error_count,
    quantile_cont(latency_ms, 0.5)              AS median_latency_ms,
    quantile_cont(latency_ms, 0.95)             AS p95_latency_ms,
    sum(cost_usd ORDER BY cost_usd)             AS cost_usd,
    coalesce(sum(accepted_lines), 0)            AS accepted_lines
FROM traces
GROUP BY event_date, repo
"""

# daily_branch_sessions: the traces that name a git branch, one row per (day, repo, branch, format, session):
# what pull_request_ai matches to a pull request's head ref. A trace without a session id is its own session.
DAILY_BRANCH_SESSIONS = """
SELECT
    event_date, repo, git_branch, source_format,
    coalesce(session_id, record_id)             AS session_id,
    min(ts)                                     AS first_ts,
    max(ts)                                     AS last_ts,
    count(*)                                    AS requests,
    sum(cost_usd ORDER BY cost_usd)             AS cost_usd
FROM traces
WHERE git_branch IS NOT NULL AND repo <> 'unknown'
GROUP BY ALL
"""

# pull_requests: the latest version of each PR (by updated_at) over every staging row of its repo.
# Ties on updated_at are broken on the row's content, so the winner never depends on delivery order.
# reopened_count: distinct `reopened` issue events of that PR number (the same event seen in many pages
# counts once). commit_shas and ai_coauthors: every commit ever listed for the PR (a force-push does not
# remove one already seen: AI help on rewritten commits still went into the PR), and every AI tool their
# co-author trailers name, sorted.
PULL_REQUESTS = """
WITH latest AS (
    SELECT *
    FROM github_pulls
    WHERE pr_number IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY repo, pr_number
        ORDER BY updated_at DESC NULLS LAST, merged_at DESC NULLS LAST, closed_at DESC NULLS LAST,
                 state DESC NULLS LAST, pr_id DESC NULLS LAST, author DESC NULLS LAST, created_at DESC NULLS LAST
    ) = 1
),
reopen_events AS (
    SELECT DISTINCT repo, pr_number, event_id, created_at
    FROM github_issue_events
    WHERE event = 'reopened' AND pr_number IS NOT NULL
),
reopened AS (
    SELECT repo, pr_number, count(*) AS reopened_count FROM reopen_events GROUP BY repo, pr_number
),
pr_commits AS (
    SELECT repo, pr_number,
        list_sort(list(DISTINCT sha)) AS commit_shas,
        list_sort(list_distinct(flatten(list(coalesce(ai_coauthors, []))))) AS ai_coauthors
    FROM github_pull_commits
    WHERE sha IS NOT NULL AND pr_number IS NOT NULL
    GROUP BY repo, pr_number
)
SELECT
    l.repo, l.pr_id, l.pr_number, l.state, l.author, l.created_at, l.updated_at, l.closed_at, l.merged_at,
    l.head_ref, l.base_ref,
    coalesce(r.reopened_count, 0) AS reopened_count,
    coalesce(c.commit_shas, []) AS commit_shas,
    coalesce(c.ai_coauthors, []) AS ai_coauthors
FROM latest AS l
LEFT JOIN reopened AS r ON r.repo = l.repo AND r.pr_number = l.pr_number
LEFT JOIN pr_commits AS c ON c.repo = l.repo AND c.pr_number = l.pr_number
"""

# commits: one row per sha in its (event_date = UTC day of author_date, repo) partition.
COMMITS = """
SELECT event_date, repo, sha, author, author_date, committer_date
FROM github_commits
WHERE sha IS NOT NULL
QUALIFY row_number() OVER (
    PARTITION BY repo, sha
    ORDER BY committer_date DESC NULLS LAST, author_date DESC NULLS LAST, author DESC NULLS LAST
) = 1
"""

# The UTC days on which a PR's contribution to daily_github_metrics may differ between two versions of
# pull_requests: the created and merged days of every row present in one and not (identically) in the other.
CHANGED_PR_DAYS = """
WITH changed AS (
    (SELECT * FROM old_pull_requests EXCEPT SELECT * FROM new_pull_requests)
    UNION ALL
    (SELECT * FROM new_pull_requests EXCEPT SELECT * FROM old_pull_requests)
)
SELECT DISTINCT strftime(created_at, '%Y-%m-%d') AS day FROM changed WHERE created_at IS NOT NULL
UNION
SELECT DISTINCT strftime(merged_at, '%Y-%m-%d') AS day FROM changed WHERE merged_at IS NOT NULL
"""

# daily_github_metrics: one row per (event_date, repo) with at least one commit, opened PR or merged PR,
# for the requested days only ($days). Merge time is microsecond-exact, in hours.
DAILY_GITHUB_METRICS = """
WITH days AS (
    SELECT unnest($days::VARCHAR[]) AS event_date
),
c AS (
    SELECT event_date, repo, count(DISTINCT sha) AS commit_count
    FROM commits
    WHERE sha IS NOT NULL
    GROUP BY event_date, repo
),
o AS (
    SELECT strftime(created_at, '%Y-%m-%d') AS event_date, repo, count(*) AS opened_pr_count
    FROM pull_requests
    WHERE created_at IS NOT NULL
    GROUP BY ALL
),
m AS (
    SELECT
        strftime(merged_at, '%Y-%m-%d') AS event_date,
        repo,
        count(*) AS merged_pr_count,
        count(*) FILTER (WHERE reopened_count >= 1) AS reopened_pr_count,
        avg(date_diff('microsecond', created_at, merged_at) / 3600e6
            ORDER BY date_diff('microsecond', created_at, merged_at)) AS avg_merge_hours,
        quantile_cont(date_diff('microsecond', created_at, merged_at) / 3600e6, 0.5) AS median_merge_hours
    FROM pull_requests
    WHERE merged_at IS NOT NULL
    GROUP BY ALL
),
active AS (
    SELECT event_date, repo FROM c
    UNION SELECT event_date, repo FROM o
    UNION SELECT event_date, repo FROM m
)
SELECT
    a.event_date,
    a.repo,
    coalesce(c.commit_count, 0)      AS commit_count,
    coalesce(o.opened_pr_count, 0)   AS opened_pr_count,
    coalesce(m.merged_pr_count, 0)   AS merged_pr_count,
    coalesce(m.reopened_pr_count, 0) AS reopened_pr_count,
    m.avg_merge_hours,
    m.median_merge_hours
FROM active AS a
JOIN days AS d ON d.event_date = a.event_date
LEFT JOIN c ON c.event_date = a.event_date AND c.repo = a.repo
LEFT JOIN o ON o.event_date = a.event_date AND o.repo = a.repo
LEFT JOIN m ON m.event_date = a.event_date AND m.repo = a.repo
"""

# developer_daily_usage: one row per (event_date, tool, developer_id) for the requested days ($days), from the
# usage_records of those days and the day before (the baseline of a cumulative series).
# - report rows: the row of the report stored last (reported_at, then source_key) replaces every earlier one;
# - metric points: each record_id once; a delta point is its value, a cumulative point its increase over the
#   previous point of its series (its value for the first point, or after a drop: a counter reset); summed;
# - for a (day, tool, developer) with a report row, the report is the figure (metric points are not added);
# - an organization-level row (developer_id '*') is kept only for a (day, tool) without per-developer rows;
# - person and team from the people table (config/people.json), matched case-insensitively; NULL when unmapped.
# Sums of measures a source never fills stay NULL (unknown), not 0.
_USAGE_MEASURES = tuple(name for name, _ in USAGE_MEASURES)
_INCREMENTS = ",\n        ".join(
    f"CASE WHEN kind = 'cumulative' AND {m} >= lag({m}) OVER series THEN {m} - lag({m}) OVER series ELSE {m} END AS {m}"
    for m in _USAGE_MEASURES
)
_SUMS = ",\n    ".join(f"sum({m} ORDER BY {m}) AS {m}" for m in _USAGE_MEASURES)
_COLUMNS = ", ".join(_USAGE_MEASURES)
DEVELOPER_DAILY_USAGE = f"""
WITH days AS (
    SELECT unnest($days::VARCHAR[]) AS event_date
),
reports AS (
    SELECT event_date, tool, source_format, developer_id, repo, {_COLUMNS}, source_key
    FROM usage_records
    WHERE kind = 'report' AND event_date IN (SELECT event_date FROM days)
    QUALIFY row_number() OVER (
        PARTITION BY event_date, tool, developer_id
        ORDER BY reported_at DESC NULLS LAST, source_key DESC, record_id DESC
    ) = 1
),
points AS (
    SELECT *
    FROM usage_records
    WHERE kind IN ('delta', 'cumulative')
    QUALIFY row_number() OVER (PARTITION BY record_id ORDER BY reported_at DESC NULLS LAST, source_key DESC) = 1
),
increments AS (
    SELECT
        event_date, tool, source_format, developer_id, repo, source_key,
        {_INCREMENTS}
    FROM points
    WINDOW series AS (PARTITION BY series_id ORDER BY point_time, record_id)
),
metered AS (
    SELECT
        event_date, tool, min(source_format) AS source_format, developer_id, min(repo) AS repo,
        {_SUMS},
        max(source_key) AS source_key
    FROM increments
    WHERE event_date IN (SELECT event_date FROM days)
    GROUP BY event_date, tool, developer_id
),
combined AS (
    SELECT * FROM reports
    UNION ALL
    SELECT m.* FROM metered AS m
    WHERE NOT EXISTS (
        SELECT 1 FROM reports AS r
        WHERE r.event_date = m.event_date AND r.tool = m.tool AND r.developer_id = m.developer_id
    )
)
SELECT c.event_date, c.tool, c.source_format, c.developer_id, p.person, p.team, c.repo,
       {", ".join(f"c.{m}" for m in _USAGE_MEASURES)}, c.source_key
FROM combined AS c
LEFT JOIN people AS p ON p.identity = lower(c.developer_id)
WHERE c.developer_id <> '*'
   OR NOT EXISTS (
        SELECT 1 FROM combined AS d
        WHERE d.event_date = c.event_date AND d.tool = c.tool AND d.developer_id <> '*'
   )
"""

# ai_commits: one row per (repo, sha), the item of the page stored last (a re-fetched page replaces).
AI_COMMITS = """
SELECT repo, sha, tool, developer_id, committed_at, ai_lines_added, total_lines_added, is_primary_branch
FROM ai_commit_records
WHERE sha IS NOT NULL
QUALIFY row_number() OVER (
    PARTITION BY repo, sha
    ORDER BY reported_at DESC NULLS LAST, source_key DESC, developer_id DESC NULLS LAST, record_id DESC
) = 1
"""

# daily_developer_metrics: one row per (event_date, person) for the requested days ($days). A person is the
# people table's person for an identity (case-insensitive), else the identity as given. Per (day, person, tool),
# the vendor's usage figures (developer_daily_usage) are the figures when the vendor reports that tool for that
# person and day; otherwise the traces of that tool ($trace_formats[i] -> $trace_tools[i]) count. Never both: the
# same activity is in a tool's traces and in its vendor's report. requests always come from traces.
# Delivery: commits by their author (login or e-mail) on their author day; pull requests opened (created day) and
# merged (merged day) by their author. Organization totals ('*') belong to nobody and are left out.
DAILY_DEVELOPER_METRICS = """
WITH days AS (
    SELECT unnest($days::VARCHAR[]) AS event_date
),
traced AS (
    SELECT
        t.event_date,
        coalesce(p.person, t.developer_id) AS person,
        coalesce(tt.tool, t.source_format) AS tool,
        count(*) AS requests,
        count(DISTINCT t.session_id) AS sessions,
        sum(t.accepted_lines) AS accepted_lines,
        sum(t.cost_usd ORDER BY t.cost_usd) AS cost_usd
    FROM traces AS t
    LEFT JOIN people AS p ON p.identity = lower(t.developer_id)
    LEFT JOIN (
        SELECT unnest($trace_formats::VARCHAR[]) AS source_format, unnest($trace_tools::VARCHAR[]) AS tool
    ) AS tt ON tt.source_format = t.source_format
    WHERE t.developer_id IS NOT NULL AND t.event_date IN (SELECT event_date FROM days)
    GROUP BY ALL
),
reported AS (
    SELECT
        u.event_date,
        coalesce(u.person, u.developer_id) AS person,
        u.tool,
        sum(u.sessions) AS sessions,
        sum(u.accepted_lines) AS accepted_lines,
        sum(u.cost_usd ORDER BY u.cost_usd) AS cost_usd
    FROM developer_daily_usage AS u
    WHERE u.developer_id <> '*' AND u.event_date IN (SELECT event_date FROM days)
    GROUP BY ALL
),
per_tool AS (
    SELECT
        coalesce(r.event_date, t.event_date) AS event_date,
        coalesce(r.person, t.person) AS person,
        coalesce(r.tool, t.tool) AS tool,
        coalesce(t.requests, 0) AS requests,
        CASE WHEN r.person IS NOT NULL THEN r.sessions ELSE t.sessions END AS sessions,
        CASE WHEN r.person IS NOT NULL THEN r.accepted_lines ELSE t.accepted_lines END AS accepted_lines,
        CASE WHEN r.person IS NOT NULL THEN r.cost_usd ELSE t.cost_usd END AS cost_usd
    FROM reported AS r
    FULL JOIN traced AS t ON t.event_date = r.event_date AND t.person = r.person AND t.tool = r.tool
),
ai AS (
    SELECT
        event_date, person,
        sum(requests) AS requests,
        sum(sessions) AS sessions,
        sum(accepted_lines) AS ai_accepted_lines,
        sum(cost_usd ORDER BY cost_usd) AS cost_usd,
        list(DISTINCT tool ORDER BY tool) AS tools
    FROM per_tool
    GROUP BY ALL
),
authored AS (
    SELECT c.event_date, coalesce(p.person, c.author) AS person, count(DISTINCT (c.repo, c.sha)) AS commits_authored
    FROM commits AS c
    LEFT JOIN people AS p ON p.identity = lower(c.author)
    WHERE c.author IS NOT NULL AND c.event_date IN (SELECT event_date FROM days)
    GROUP BY ALL
),
pr_events AS (
    SELECT strftime(created_at, '%Y-%m-%d') AS event_date, author, 'opened' AS what
    FROM pull_requests WHERE created_at IS NOT NULL
    UNION ALL
    SELECT strftime(merged_at, '%Y-%m-%d') AS event_date, author, 'merged' AS what
    FROM pull_requests WHERE merged_at IS NOT NULL
),
prs AS (
    SELECT e.event_date, coalesce(p.person, e.author) AS person,
           count(*) FILTER (WHERE what = 'opened') AS prs_opened,
           count(*) FILTER (WHERE what = 'merged') AS prs_merged
    FROM pr_events AS e
    LEFT JOIN people AS p ON p.identity = lower(e.author)
    WHERE e.author IS NOT NULL AND e.event_date IN (SELECT event_date FROM days)
    GROUP BY ALL
),
everyone AS (
    SELECT event_date, person FROM ai
    UNION SELECT event_date, person FROM authored
    UNION SELECT event_date, person FROM prs
)
SELECT
    e.event_date,
    e.person,
    (SELECT any_value(team) FROM people AS p WHERE p.person = e.person) AS team,
    coalesce(ai.requests, 0) AS requests,
    ai.sessions,
    ai.ai_accepted_lines,
    ai.cost_usd,
    coalesce(ai.tools, []::VARCHAR[]) AS tools,
    coalesce(a.commits_authored, 0) AS commits_authored,
    coalesce(pr.prs_merged, 0) AS prs_merged,
    coalesce(pr.prs_opened, 0) AS prs_opened
FROM everyone AS e
LEFT JOIN ai ON ai.event_date = e.event_date AND ai.person = e.person
LEFT JOIN authored AS a ON a.event_date = e.event_date AND a.person = e.person
LEFT JOIN prs AS pr ON pr.event_date = e.event_date AND pr.person = e.person
"""
