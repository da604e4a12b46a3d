"""The embedded local stack: the real handlers on moto, resources from template.yaml, SQL on DuckDB."""
