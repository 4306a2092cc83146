"""The flat views of an incident's record: one CSV row, or one GeoJSON feature's properties.

Made from the record itself (the JSON export's, stored for each incident: see stored.py), so that the three
formats of an export cannot disagree about an incident.
"""

from __future__ import annotations

from typing import Any

from incidents.exports.serialize import CATEGORIES

# The flat row: columns close to UCDP GED and ACLED, with the HXL hashtag of each (DOMAIN.md).
FLAT_COLUMNS: list[tuple[str, str]] = [
    ("id", "#event+id"),
    ("title", "#event+name"),
    ("date_start", "#date+start"),
    ("date_end", "#date+end"),
    ("date_prec", "#date+precision+code"),
    ("date_precision", "#date+precision"),
    ("where_prec", "#geo+precision+code"),
    ("location_precision", "#geo+precision"),
    ("place_name", "#loc+name"),
    ("admin2", "#adm2+name"),
    ("admin1", "#adm1+name"),
    ("country", "#country+code"),
    ("country_name", "#country+name"),
    ("latitude", "#geo+lat"),
    ("longitude", "#geo+lon"),
    ("types", "#event+type"),
    ("perpetrators", "#group+name+first"),
    ("victims", "#affected+type"),
    *[
        (f"{category}_{bound}", f"#affected+{category}" + {"low": "+min", "best": "", "high": "+max"}[bound])
        for category in CATEGORIES
        for bound in ("low", "best", "high")
    ],
    ("number_of_sources", "#meta+source+num"),
    ("source_titles", "#meta+source"),
    ("verification_grade", "#status+verification"),
    ("narrative", "#description"),
    ("permalink", "#meta+url"),
]
STAFF_FLAT_COLUMNS: list[tuple[str, str]] = [
    ("status", "#status+publication"),
    ("confidential_notes", "#meta+confidential"),
    ("created_at", "#date+created"),
    ("created_by", "#contact+created"),
    ("updated_at", "#date+updated"),
    ("updated_by", "#contact+updated"),
    ("version", "#meta+version"),
]
_STAFF_NAMES = [name for name, _tag in STAFF_FLAT_COLUMNS]
_NO_FIGURES = {f"{category}_{bound}": None for category in CATEGORIES for bound in ("low", "best", "high")}


def flat_columns(*, staff: bool) -> list[tuple[str, str]]:
    return FLAT_COLUMNS + STAFF_FLAT_COLUMNS if staff else FLAT_COLUMNS


def flat_row(record: dict[str, Any], permalink: str, *, staff: bool) -> dict[str, Any]:
    """The incident's record (serialize.incident_record, with the staff fields for staff) as one flat row."""
    date = record["date"]
    location = record["location"]
    row: dict[str, Any] = {
        "id": record["id"],
        "title": record["title"],
        "date_start": date["start"],
        "date_end": date["end"],
        "date_prec": date["ucdp_date_prec"],
        "date_precision": date["precision"],
        "where_prec": location["ucdp_where_prec"],
        "location_precision": location["precision"],
        "place_name": location["place_name"],
        "admin2": location["admin2"],
        "admin1": location["admin1"],
        "country": location["country"],
        "country_name": location["country_name"],
        "latitude": location["latitude"],
        "longitude": location["longitude"],
        "types": ";".join(kind["slug"] for kind in record["types"]),
        "perpetrators": record["perpetrators"],
        "victims": record["victims"],
        **_NO_FIGURES,
    }
    for figure in record["casualties"]:
        category = figure["category"]
        row[f"{category}_low"] = figure["low"]
        row[f"{category}_best"] = figure["best"]
        row[f"{category}_high"] = figure["high"]
    titles = list(dict.fromkeys(citation["source"]["title"] for citation in record["citations"]))
    row["number_of_sources"] = record["source_count"]
    row["source_titles"] = ";".join(titles)
    row["verification_grade"] = record["verification_grade"]
    row["narrative"] = record["narrative"]
    row["permalink"] = permalink
    if staff:
        for name in _STAFF_NAMES:
            row[name] = record[name]
    return row
