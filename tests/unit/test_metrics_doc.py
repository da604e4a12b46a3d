"""docs/metrics.md documents exactly the columns of prodlens.schema, each under its table's heading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prodlens.schema import TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
_ROW = re.compile(r"^\|\s*`([a-z0-9_]+)`\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*$")


def _documented() -> dict[str, dict[str, tuple[str, str, str]]]:
    """table heading -> column -> (type, definition, unit), from the `## <table>` sections."""
    tables: dict[str, dict[str, tuple[str, str, str]]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            tables[current] = {}
        elif current and (match := _ROW.match(line)):
            column, kind, definition, unit = match.groups()
            assert column not in tables[current], f"{current}.{column} documented twice"
            tables[current][column] = (kind, definition, unit)
    return tables


def test_metrics_doc_has_exactly_the_schema_tables() -> None:
    assert set(_documented()) == set(TABLES)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_metrics_doc_columns_match_schema(name: str) -> None:
    # Given: the table's data columns plus its partition columns (users query both)
    table = TABLES[name]
    expected = dict(table.columns)
    expected.update({k: "string (partition)" for k in table.partition_keys if k not in expected})

    # When
    documented = _documented()[name]

    # Then: same columns, same types, and each has a definition and a unit
    missing, extra = set(expected) - set(documented), set(documented) - set(expected)
    assert not missing and not extra, f"{name}: missing {missing}, extra {extra}"
    for column, (kind, definition, unit) in documented.items():
        assert kind == expected[column], f"{name}.{column}: documented as {kind}, schema says {expected[column]}"
        assert len(definition) > 10 and unit, f"{name}.{column} needs a definition and a unit"
