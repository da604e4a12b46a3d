"""Costs for traces that carry none, from the `genai-prices` snapshot bundled with the package (offline).

Prices are resolved once per (model, day) into per-million-token rates, so the vectorized paths can
price millions of rows with one join. The rates reproduce genai-prices' own arithmetic: uncached input,
output, cache read and cache write tokens each at their rate, and a tier (e.g. > 200k input tokens)
re-pricing all tokens of a request once total input (uncached + cache) exceeds its start. Time-of-day
price variants are not modelled (day resolution).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import lru_cache

from genai_prices import data_snapshot
from genai_prices.types import TieredPrices

_FIELDS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
_PROVIDER_ALIASES = {"bedrock": "aws", "vertex_ai": "google-vertex", "gemini": "google"}


@dataclass(frozen=True)
class Rates:
    """USD per million tokens; `tier_*` apply to all tokens once total input exceeds tier_start."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    tier_start: int | None = None
    tier_input: float | None = None
    tier_output: float | None = None
    tier_cache_read: float | None = None
    tier_cache_write: float | None = None


def _split_ref(model: str) -> tuple[str | None, str]:
    if "/" in model:
        provider, _, name = model.partition("/")
        return _PROVIDER_ALIASES.get(provider.lower(), provider.lower()), name
    return None, model


def _base_and_tier(price: Decimal | TieredPrices | None) -> tuple[Decimal | None, int | None, Decimal | None]:
    if isinstance(price, TieredPrices):
        tier = price.tiers[0] if price.tiers else None
        return price.base, (tier.start if tier else None), (tier.price if tier else None)
    return price, None, None


@lru_cache(maxsize=4096)
def rates_for(model: str | None, day: date) -> Rates | None:
    """Rates for `model` on `day` (UTC), or None when genai-prices does not know the model."""
    if not model:
        return None
    snapshot = data_snapshot.get_snapshot()
    provider_id, name = _split_ref(model)
    candidates = [(provider_id, name), (None, name)] if provider_id else [(None, name)]
    found = None
    for pid, ref in candidates:
        try:
            found = snapshot.find_provider_model(ref, None, pid, None)
            break
        except LookupError:
            continue
    if found is None:
        return None
    _, model_info = found
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prices = model_info.get_prices(datetime.combine(day, time(12), tzinfo=UTC))
    parts = {field: _base_and_tier(getattr(prices, field, None)) for field in _FIELDS}
    base_in = parts["input_mtok"][0]
    base_out = parts["output_mtok"][0]
    if base_in is None and base_out is None:
        return None
    zero = Decimal(0)
    b_in, b_out = base_in or zero, base_out or zero
    # genai-prices bills cache tokens at the input rate when the model has no separate cache price.
    b_read = parts["cache_read_mtok"][0] if parts["cache_read_mtok"][0] is not None else b_in
    b_write = parts["cache_write_mtok"][0] if parts["cache_write_mtok"][0] is not None else b_in
    starts = [start for _, start, _ in parts.values() if start is not None]
    rates = Rates(float(b_in), float(b_out), float(b_read), float(b_write))
    if not starts:
        return rates
    start = min(starts)

    def tiered(field: str, base: Decimal) -> float:
        _, tier_start, tier_price = parts[field]
        return float(tier_price if tier_start == start and tier_price is not None else base)

    return Rates(
        rates.input,
        rates.output,
        rates.cache_read,
        rates.cache_write,
        start,
        tiered("input_mtok", b_in),
        tiered("output_mtok", b_out),
        tiered("cache_read_mtok", b_read),
        tiered("cache_write_mtok", b_write),
    )
