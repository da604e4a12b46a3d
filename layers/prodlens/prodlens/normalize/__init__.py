"""The normalize domain: raw trace objects and GitHub pages -> canonical Parquet rows + dead letters.

No boto3 and no environment reads here: callers pass a local copy of the object and a work directory.

Modules: `core` (routing, decompression, format detection, accounting), `jsonl` (seed and Claude Code
transcripts, vectorized in DuckDB SQL), `records` (LiteLLM payloads and OTLP spans, per record in Python),
`fields` (timestamp/token/repo/identity rules and the privacy filter for dead-letter raw text), `pricing`
(genai-prices rates per model and day), `writer` (DuckDB `COPY ... (FORMAT PARQUET)` per partition),
`github` (GitHub REST pages -> staging rows).
"""

from prodlens.normalize.core import Limits, normalize_object, normalize_paths

__all__ = ["Limits", "normalize_object", "normalize_paths"]
