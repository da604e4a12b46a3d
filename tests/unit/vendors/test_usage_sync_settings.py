"""The usage fetcher Lambda's settings, read from the environment the template gives each deployment."""

from __future__ import annotations

from datetime import date

import pytest
from prodlens.errors import ConfigurationError
from prodlens.services.usage_sync import UsageSyncSettings

ENV = {"USAGE_SOURCE": "copilot", "RAW_BUCKET": "raw", "STATE_TABLE": "state", "USAGE_TOKEN_SECRET": "s"}


def test_accounts_are_labels_lower_cased_deduplicated_in_order_and_the_api_defaults_to_the_vendor():
    settings = UsageSyncSettings.from_env({**ENV, "USAGE_ACCOUNTS": " Acme, acme-labs,ACME ", "USAGE_SCOPE": ""})
    assert settings.accounts == ("acme", "acme-labs")
    assert (settings.api_url, settings.scope, settings.oldest) == ("https://api.github.com", "organization", None)


def test_empty_accounts_mean_the_fetcher_is_off():
    assert UsageSyncSettings.from_env({**ENV, "USAGE_ACCOUNTS": ""}).accounts == ()


def test_claude_code_takes_an_oldest_day_and_its_own_api():
    env = {**ENV, "USAGE_SOURCE": "claude_code", "USAGE_ACCOUNTS": "acme", "USAGE_OLDEST_DAY": "2026-01-05"}
    settings = UsageSyncSettings.from_env(env)
    assert (settings.api_url, settings.oldest) == ("https://api.anthropic.com", date(2026, 1, 5))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"USAGE_TOKEN_SECRET": ""}, "USAGE_TOKEN_SECRET"),
        ({"USAGE_SOURCE": "cursor"}, "USAGE_SOURCE must be one of copilot, claude_code"),
        ({"USAGE_SOURCE": "claude_code", "USAGE_SCOPE": "enterprise"}, "claude_code has no 'enterprise' scope"),
        ({"USAGE_API_URL": "http://api.example.com"}, "must be https"),
        ({"USAGE_ACCOUNTS": "acme/../x"}, "USAGE_ACCOUNTS"),
        ({"USAGE_OLDEST_DAY": "2026-13-45"}, "USAGE_OLDEST_DAY"),
    ],
)
def test_a_misconfigured_deployment_is_a_configuration_error_that_says_what(change, message):
    with pytest.raises(ConfigurationError, match=message):
        UsageSyncSettings.from_env({**ENV, **change})
