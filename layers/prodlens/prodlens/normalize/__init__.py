"""The normalize domain: raw trace objects and GitHub pages -> canonical Parquet rows + dead letters.

No boto3 and no environment reads here: callers pass a local copy of the object and a work directory.

Modules: `core` (routing, decompression, detection through the registry, accounting), `formats` (the
registry: one module per trace format with its detection and parsing), `jsonl` (the vectorized DuckDB SQL
path of the line formats), `rules` (the field rules, once, as DuckDB SQL macros both paths apply: timestamps,
token counts, numbers, booleans, repo slugs), `rows` (the canonical row of the Python-parsed formats), `fields`
(record ids, value lookups and the privacy filter for dead-letter raw text), `pricing` (genai-prices rates per
model and day), `writer` (DuckDB `COPY ... (FORMAT PARQUET)` per partition), `github` (GitHub REST pages ->
staging rows).
"""

from prodlens.normalize.core import Limits, normalize_object, normalize_paths

__all__ = ["Limits", "normalize_object", "normalize_paths"]
