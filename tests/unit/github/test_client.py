from __future__ import annotations

import pytest
from prodlens.github.client import GithubClient, GithubError
from prodlens.http import parse_link_header


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", {}),
        (
            '<https://api.github.com/repositories/1/pulls?page=2>; rel="next", '
            '<https://api.github.com/repositories/1/pulls?page=5>; rel="last"',
            {
                "next": "https://api.github.com/repositories/1/pulls?page=2",
                "last": "https://api.github.com/repositories/1/pulls?page=5",
            },
        ),
        (
            '<https://x/?a=1,2&page=3>; rel="prev first"',
            {"prev": "https://x/?a=1,2&page=3", "first": "https://x/?a=1,2&page=3"},
        ),
        ("<https://x/?page=2>; rel=next", {"next": "https://x/?page=2"}),
    ],
)
def test_parse_link_header_returns_url_per_rel(header, expected):
    assert parse_link_header(header) == expected


def test_client_without_token_is_refused():
    with pytest.raises(GithubError):
        GithubClient("", "https://api.github.com")


def test_client_url_joins_paths_under_api_root():
    client = GithubClient("t", "https://ghe.example.com/api/v3/")
    assert client.url("/repos/a/b/pulls") == "https://ghe.example.com/api/v3/repos/a/b/pulls"
