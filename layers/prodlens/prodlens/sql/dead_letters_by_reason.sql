-- What was rejected, and why: fix the source and drop the object again to replay it.
SELECT reason, count(*) AS records, count(DISTINCT source_key) AS objects, max(rejected_at) AS last_rejected_at
FROM dead_letters
GROUP BY reason
ORDER BY records DESC
