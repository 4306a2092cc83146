"""The map's GeoJSON (RFC 7946): public fields only, and text as data, never as markup.

Every value here reaches the browser as JSON and is put on the page with DOM text nodes by
static/js/incident-map.js; nothing here is HTML.
"""

from __future__ import annotations

from typing import Any

from flask import url_for

from incidents.domain.dating import date_label
from incidents.queries.map_view import AreaView
from incidents.vocabulary import (
    LOCATION_UNCERTAINTY_M,
    CasualtyCategory,
    DatePrecision,
    LocationPrecision,
    VerificationGrade,
)
from incidents.web.map_style import marker_radius, primary_type, type_colour
from incidents.web.templating import country_name

COARSENED_NOTE = " Published coarsened, to protect the people involved."


def precision_note(precision: LocationPrecision, record: dict[str, Any]) -> str:
    """What the drawing of an incident's location means, in words."""
    radius_km = LOCATION_UNCERTAINTY_M[precision] // 1000
    if precision == LocationPrecision.EXACT:
        return "Exact location."
    if precision == LocationPrecision.NEAR:
        return f"Location known to within about {radius_km} km: drawn as a circle of that radius."
    area = {
        LocationPrecision.ADMIN2: ("admin-2 region", record.get("admin2")),
        LocationPrecision.ADMIN1: ("admin-1 region", record.get("admin1")),
        LocationPrecision.COUNTRY: ("country", country_name(record.get("country"))),
    }[precision]
    named = f" ({area[1]})" if area[1] else ""
    return (
        f"Location known only to the {area[0]}{named}: drawn as a circle of {radius_km} km around its "
        "centre, not as a precise point."
    )


def place_label(record: dict[str, Any]) -> str:
    parts = [
        record.get("place_name"),
        record.get("admin2"),
        record.get("admin1"),
        country_name(record["country"]),
    ]
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return ", ".join(seen)


def _ranges(ranges: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    return [
        {"category": c.value, "label": c.label, "low": ranges[c.value][0], "high": ranges[c.value][1]}
        for c in CasualtyCategory
        if c.value in ranges
    ]


def incident_feature(record: dict[str, Any]) -> dict[str, Any]:
    precision = LocationPrecision(record["location_precision"])
    date_precision = DatePrecision(record["date_precision"])
    grade = VerificationGrade(record["verification_grade"])
    slugs = [slug for slug, _ in record["types"]]
    main_type = primary_type(slugs)
    people = sum(high for _, high in record["ranges"].values())
    return {
        "type": "Feature",
        "id": record["public_id"],
        "geometry": {"type": "Point", "coordinates": [record["longitude"], record["latitude"]]},
        "properties": {
            "kind": "incident",
            "id": record["public_id"],
            "title": record["title"],
            "url": url_for("incidents.incident_detail", ref=record["public_id"]),
            "start_date": record["start_date"].isoformat(),
            "end_date": record["end_date"].isoformat() if record["end_date"] else None,
            "date_precision": date_precision.value,
            "date_label": date_label(record["start_date"], record["end_date"], date_precision),
            "date_precision_label": date_precision.label,
            "place": place_label(record),
            "location_precision": precision.value,
            "location_precision_label": precision.label,
            "precision_note": precision_note(precision, record)
            + (COARSENED_NOTE if record.get("location_coarsened") else ""),
            "coarsened": bool(record.get("location_coarsened")),
            "uncertainty_m": LOCATION_UNCERTAINTY_M[precision],
            "types": [label for _, label in record["types"]],
            "primary_type": main_type,
            "colour": type_colour(main_type),
            "radius_px": marker_radius(people),
            "verification_grade": grade.value,
            "verification_label": grade.label,
            "source_count": record["source_count"],
            "casualties": _ranges(record["ranges"]),
        },
    }


def cluster_feature(cluster: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [cluster["longitude"], cluster["latitude"]]},
        "properties": {
            "kind": "cluster",
            "count": cluster["count"],
            "bounds": cluster["bounds"],
            "casualties": _ranges(cluster["ranges"]),
        },
    }


def feature_collection(view: AreaView) -> dict[str, Any]:
    features = [incident_feature(r) for r in view.incidents] + [cluster_feature(c) for c in view.clusters]
    return {
        "type": "FeatureCollection",
        "features": features,
        "aggregated": view.aggregated,
        "level": view.level,
        "count": view.count,
        "casualties": _ranges(view.ranges),
    }
