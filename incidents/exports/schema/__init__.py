"""JSON Schemas of the export formats, one file per format version."""

from __future__ import annotations

from pathlib import Path


def schema_path(version: str) -> Path:
    return Path(__file__).with_name(f"incidents-export-{version}.schema.json")
