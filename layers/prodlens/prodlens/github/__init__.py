"""Domain: the GitHub fetcher (HTTP, Link paging, ETags, rate limits). No boto3, no environment reads."""
