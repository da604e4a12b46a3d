"""API tokens from Secrets Manager, read through Powertools Parameters (cached 5 minutes per environment).

A secret holds the token as a plain string or as JSON `{"token": "..."}`. A secret that is missing, unreadable
or holds no token is a ConfigurationError naming the secret, never its value: the run fails and an alarm sees it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from prodlens.errors import ConfigurationError

CACHE_S = 300


def token_from_secret(value: str | bytes | Mapping[str, Any], secret_id: str = "the token secret") -> str:
    """A secret's value, plain or JSON {"token": ...} -> the token."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError as e:
                raise ConfigurationError(f"{secret_id} is neither a token nor valid JSON") from e
        else:
            value = {"token": text}
    token = value.get("token") if isinstance(value, Mapping) else None
    if not isinstance(token, str) or not token.strip():
        raise ConfigurationError(f'{secret_id} has no "token"')
    return token.strip()


def load_token(secret_id: str, get_secret: Callable[..., Any] | None = None) -> str:
    """The token in the secret `secret_id`; ConfigurationError if it cannot be read."""
    if get_secret is None:
        from aws_lambda_powertools.utilities import parameters

        get_secret = parameters.get_secret
    try:
        value = get_secret(secret_id, max_age=CACHE_S)
    except GetParameterError as e:  # Powertools' wrapper of every failure: missing secret, access denied, ...
        raise ConfigurationError(f"cannot read the secret {secret_id!r}: {_reason(e)}") from None
    return token_from_secret(value, f"the secret {secret_id!r}")


def _reason(error: Exception) -> str:
    cause = error.__cause__ or error.__context__
    code = getattr(cause, "response", {}).get("Error", {}).get("Code") if cause is not None else None
    return code or type(error).__name__
