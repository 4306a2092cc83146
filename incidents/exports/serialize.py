"""The serializers for each audience: what the public sees of an incident, and what staff see besides.

The nested record (JSON export, API, and the stored record of each incident: see stored.py) and its
canonical bytes; the flat row of CSV and GeoJSON is made from this record (flat.py). The public fields are
listed once, in incident_record; staff output adds _staff_values. Nothing else ever leaves: unpublished
incidents are kept out by the query, confidential fields by these functions.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, cast

import orjson
import pycountry

if TYPE_CHECKING:
    from incidents.exports.reader import IncidentRows
from incidents.domain.sensitivity import CONFIDENTIAL_SOURCE_TITLE
from incidents.vocabulary import CasualtyCategory, DatePrecision, LocationPrecision

# The version of an incident's canonical record bytes (incident_record, then canonical_json): move it with any
# change that changes the bytes of a record (a field added, renamed, moved or written differently, a UCDP
# code mapped otherwise). Stored records of another version are not used until `records --rebuild` writes them
# anew (exports.stored.LAYOUT). tests/test_record_version.py keeps the bytes of fixture records for this
# version and fails when they change while it stays.
RECORD_VERSION = 3

# UCDP codes for our precisions (DOMAIN.md): date_prec 1–5, where_prec 1, 2, 3, 4, 6.
UCDP_DATE_PREC = {p.value: code for code, p in enumerate(DatePrecision, start=1)}
UCDP_WHERE_PREC = {
    LocationPrecision.EXACT.value: 1,
    LocationPrecision.NEAR.value: 2,
    LocationPrecision.ADMIN2.value: 3,
    LocationPrecision.ADMIN1.value: 4,
    LocationPrecision.COUNTRY.value: 6,
}
CATEGORIES = [category.value for category in CasualtyCategory]

_RANGE_COLUMNS = [(category, f"{category}_low", f"{category}_high") for category in CATEGORIES]

_country_names: dict[str, str] = {}


def country_name(code: str) -> str:
    name = _country_names.get(code)
    if name is None:
        country = pycountry.countries.get(alpha_2=code)
        name = _country_names[code] = country.name if country else code
    return name


def iso_date(value: Any) -> str | None:
    """A date as YYYY-MM-DD whether the driver gave a string (SQLite) or a date (PostgreSQL)."""
    if value is None or value.__class__ is str:
        return value
    return str(value.isoformat())


def iso_timestamp(value: dt.datetime | str | None) -> str | None:
    """A UTC timestamp as 2024-01-31T08:15:00Z (microseconds only when there are some)."""
    if value is None:
        return None
    if value.__class__ is str:  # SQLite, read without SQLAlchemy's conversion
        text = cast(str, value)
        if len(text) == 26 and text[10] == " " and text[19] == ".":
            # As SQLAlchemy stores them: "2024-01-31 08:15:00.000000", in UTC. Rewritten as text: the same
            # result as the datetime road below, several times faster (a staff export writes two a record).
            fraction = text[19:]
            return text[:10] + "T" + text[11:19] + ("" if fraction == ".000000" else fraction) + "Z"
        value = dt.datetime.fromisoformat(text)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"A timestamp is a datetime or its text, not {value!r}.")
    if value.tzinfo is None:  # SQLite keeps no offset; every timestamp is written in UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def source_record(source: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": source["id"],
        "title": source["title"],
        "kind": source["kind"],
        "publisher": source["publisher"],
        "author": source["author"],
        "publication_date": iso_date(source["publication_date"]),
        "url": source["url"],
        "accessed_date": iso_date(source["accessed_date"]),
        "archive_url": source["archive_url"],
        "language": source["language"],
        "reliability": source["reliability"],
        "confidential": bool(source["confidential"]),
    }


def public_source(source: dict[str, Any]) -> dict[str, Any]:
    """A source as the public sees it: a confidential one by its kind and reliability alone, without an id
    (which would tie together the incidents one witness spoke of)."""
    if not source["confidential"]:
        return source
    return {
        "id": None,
        "title": CONFIDENTIAL_SOURCE_TITLE,
        "kind": source["kind"],
        "publisher": "",
        "author": "",
        "publication_date": None,
        "url": "",
        "accessed_date": None,
        "archive_url": "",
        "language": "",
        "reliability": source["reliability"],
        "confidential": True,
    }


def incident_record(incident: IncidentRows, *, staff: bool) -> dict[str, Any]:
    """The nested record of the JSON export and the API, without its permalink (not part of the content).

    The public's record has the location the public sees (the reader reads it: derived.public_locations) and
    confidential sources as "a confidential source" with their figures, without locator or quote.
    """
    c = incident.columns
    citations = []
    category_sources: dict[str, set[int]] = {}
    for locator, quote, source, claims in incident.citations:
        for category, *_ in claims:
            category_sources.setdefault(category, set()).add(source["id"])
        if not staff and source["confidential"]:
            locator, quote, source = "", "", public_source(source)
        citations.append(
            {
                "locator": locator,
                "quote": quote,
                "source": source,
                "claims": [
                    {"category": category, "low": low, "high": high, "group": group}
                    for category, low, high, group in claims
                ],
            }
        )
    casualties = [
        {
            "category": category,
            "low": c[low],
            "high": c[high],
            "best": incident.estimates.get(category),
            "source_count": len(category_sources.get(category, ())),
        }
        for category, low, high in _RANGE_COLUMNS
        if c[low] is not None
    ]
    record: dict[str, Any] = {
        "id": c["public_id"],
        "title": c["title"],
        "narrative": c["narrative"],
        "types": [{"slug": slug, "label": label} for slug, label in incident.types],
        "date": {
            "start": iso_date(c["start_date"]),
            "end": iso_date(c["end_date"]),
            "precision": c["date_precision"],
            "ucdp_date_prec": UCDP_DATE_PREC[c["date_precision"]],
        },
        "location": {
            "place_name": c["place_name"],
            "admin2": c["admin2"],
            "admin1": c["admin1"],
            "country": c["country"],
            "country_name": country_name(c["country"]),
            "latitude": c["latitude"],
            "longitude": c["longitude"],
            "precision": c["location_precision"],
            "ucdp_where_prec": UCDP_WHERE_PREC[c["location_precision"]],
            "coarsened": bool(c["location_coarsened"]),
        },
        "perpetrators": c["perpetrators"],
        "victims": c["victims"],
        "verification_grade": c["verification_grade"],
        "casualties": casualties,
        "source_count": c["source_count"],
        "citations": citations,
    }
    if staff:
        record.update(_staff_values(incident))
    return record


def _staff_values(incident: IncidentRows) -> dict[str, Any]:
    c = incident.columns
    return {
        "location_sensitivity": location_sensitivity(
            c["location_sensitive"],
            c["location_sensitive_reason"],
            c["public_place_name"],
            c["public_latitude"],
            c["public_longitude"],
            c["public_location_precision"],
        ),
        "status": c["status"],
        "confidential_notes": c["confidential_notes"],
        "created_at": iso_timestamp(c["created_at"]),
        "created_by": incident.created_by,
        "updated_at": iso_timestamp(c["updated_at"]),
        "updated_by": incident.updated_by,
        "version": c["version"],
    }


def location_sensitivity(
    sensitive: Any, reason: str, place_name: str, latitude: Any, longitude: Any, precision: str
) -> dict[str, Any]:
    """A staff record's location_sensitivity: the mark, its reason, and what the public sees."""
    public = {"place_name": place_name, "latitude": latitude, "longitude": longitude, "precision": precision}
    return {"sensitive": bool(sensitive), "reason": reason, "public": public}


def has_tiny_coordinates(place: dict[str, Any]) -> bool:
    """Whether orjson would write the place's coordinates otherwise than Python's json (under 1e-4)."""
    return _tiny(place["latitude"]) or _tiny(place["longitude"])


def canonical_json(record: dict[str, Any]) -> bytes:
    """The canonical form of an incident: what the checksum covers.

    UTF-8 JSON with object keys sorted and no whitespace between tokens, exactly as Python's
    json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) writes it. orjson writes
    the same bytes faster, except for floats under 1e-4 (1e-7 rather than 1e-07): those take the slow road.
    """
    location = record["location"]
    public = record.get("location_sensitivity", {}).get("public", location)  # staff records only
    if has_tiny_coordinates(location) or has_tiny_coordinates(public):
        return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def _tiny(value: float | None) -> bool:
    return value is not None and value != 0 and abs(value) < 1e-4
