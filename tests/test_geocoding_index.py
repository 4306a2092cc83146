"""The gazetteer's index and distances: geodesic as geopy measures it, reverse look-ups as measuring every
candidate would answer them, and the index cache, which is used only when it is sound.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from geographiclib.geodesic import Geodesic
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.geocoding import GazetteerGeocoder, gazetteer_index, index_cache, make_geocoder
from incidents.geocoding.base import PlaceCandidate
from incidents.geocoding.distance import (
    EARTH_RADIUS_KM,
    GEODESIC_PER_GREAT_CIRCLE,
    geodesic_km,
    great_circle_km,
)
from incidents.geocoding.gazetteer import _FINAL_PICK, _closest
from incidents.geocoding.gazetteer_index import Places

latitudes = st.floats(min_value=-90.0, max_value=90.0)
longitudes = st.floats(min_value=-180.0, max_value=180.0)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[float, float, float, float]:
    """Two points from a millimetre to half the world apart."""
    latitude, longitude = draw(latitudes), draw(longitudes)
    metres = 10 ** draw(st.floats(min_value=-3.0, max_value=7.3))
    there = Geodesic.WGS84.Direct(
        latitude, longitude, draw(st.floats(min_value=-180.0, max_value=180.0)), metres
    )
    return latitude, longitude, there["lat2"], there["lon2"]


@settings(max_examples=500, deadline=None)
@given(pairs())
def test_geodesic_km_is_geopys_to_the_bit(pair: tuple[float, float, float, float]) -> None:
    lat1, lon1, lat2, lon2 = pair
    assert geodesic_km(lat1, lon1, lat2, lon2) == geodesic((lat1, lon1), (lat2, lon2)).km


@settings(max_examples=500, deadline=None)
@given(pairs())
def test_the_great_circle_bounds_the_geodesic(pair: tuple[float, float, float, float]) -> None:
    low, high = GEODESIC_PER_GREAT_CIRCLE
    circle, km = great_circle_km(*pair), geodesic_km(*pair)
    assert low * circle - 1e-9 <= km <= high * circle + 1e-9


def test_zero_is_zero_however_it_is_signed() -> None:
    assert geodesic_km(-0.0, -0.0, 0.0, 0.0) == geodesic((-0.0, -0.0), (0.0, 0.0)).km == 0.0


# Reverse look-ups


def rows_around(places: Places, latitude: float, longitude: float, radius_km: float) -> Iterator[int]:
    """Rows in every grid cell that a circle of radius_km around the point may reach."""
    span = radius_km / (math.pi * EARTH_RADIUS_KM / 180.0)
    low, high = max(latitude - span, -90.0), min(latitude + span, 90.0)
    shrink = math.cos(math.radians(max(abs(low), abs(high))))
    lon_span = span / shrink if shrink > 1e-9 else 360.0
    if lon_span >= 180.0:
        columns = range(360)
    else:
        columns = range(math.floor(longitude - lon_span), math.floor(longitude + lon_span) + 1)
    for row in range(min(math.floor(low), 89) + 90, min(math.floor(high), 89) + 91):
        for column in columns:
            cell = places.cells.get(row * 360 + (column + 180) % 360)
            if cell is not None:
                yield from range(*cell)


def measured_reverse(latitude: float, longitude: float, max_km: float) -> PlaceCandidate | None:
    """reverse() as first written: every row of the cells around, and the geodesic distance of each of the
    closest few by great circle.
    """
    places = gazetteer_index.places()
    rows = rows_around(places, latitude, longitude, max_km)
    closest = heapq.nsmallest(
        _FINAL_PICK,
        ((great_circle_km(latitude, longitude, places.latitudes[r], places.longitudes[r]), r) for r in rows),
    )
    if not closest:
        return None
    km, row = min(
        (geodesic((latitude, longitude), (places.latitudes[r], places.longitudes[r])).km, r)
        for _, r in closest
    )
    return places.place(row) if km <= max_km else None


@st.composite
def points_near_places(draw: st.DrawFn) -> tuple[float, float]:
    """Anywhere; up to a degree from a gazetteer place; by the edge of its grid cell; or about as far from
    two places, where the great circle and the geodesic may disagree on which is nearer.
    """
    places = gazetteer_index.places()
    kind = draw(st.sampled_from(["anywhere", "near", "edge", "between"]))
    if kind == "anywhere":
        return draw(latitudes), draw(longitudes)
    row = draw(st.integers(min_value=0, max_value=len(places.names) - 2))
    if kind == "edge":
        # By the edge of the place's grid cell, where the next cells may hold nearer places.
        edge = st.floats(min_value=-0.05, max_value=0.05)
        latitude = max(-90.0, min(90.0, round(places.latitudes[row]) + draw(edge)))
        return latitude, (round(places.longitudes[row]) + draw(edge) + 180.0) % 360.0 - 180.0
    if kind == "near":
        offset = st.floats(min_value=-1.0, max_value=1.0) | st.just(0.0)
        latitude = max(-90.0, min(90.0, places.latitudes[row] + draw(offset)))
        return latitude, (places.longitudes[row] + draw(offset) + 180.0) % 360.0 - 180.0
    # Between a place and the next in its cell, a little off the line that joins them.
    lat1, lon1 = places.latitudes[row], places.longitudes[row]
    lat2, lon2 = places.latitudes[row + 1], places.longitudes[row + 1]
    share = draw(st.floats(min_value=0.495, max_value=0.505))
    aside = draw(st.floats(min_value=-0.5, max_value=0.5))
    latitude = lat1 + (lat2 - lat1) * share - (lon2 - lon1) * aside
    longitude = lon1 + (lon2 - lon1) * share + (lat2 - lat1) * aside
    return max(-90.0, min(90.0, latitude)), (longitude + 180.0) % 360.0 - 180.0


@settings(max_examples=300, deadline=None)
@given(points_near_places(), st.sampled_from([100.0, 25.0, 5.0]))
def test_reverse_answers_as_measuring_every_candidate_does(point: tuple[float, float], max_km: float) -> None:
    gazetteer = GazetteerGeocoder(reverse_max_km=max_km)
    expected = measured_reverse(*point, max_km)
    assert gazetteer.reverse(*point) == expected
    if expected is not None:
        # Right at the limit: the place at exactly max_km is found, a hair further it is not.
        at = geodesic(point, (expected.latitude, expected.longitude)).km
        for limit in (at, math.nextafter(at, 0.0)):
            if limit > 0:
                assert GazetteerGeocoder(reverse_max_km=limit).reverse(*point) == measured_reverse(
                    *point, limit
                )


@settings(max_examples=300, deadline=None)
@given(points_near_places(), st.sampled_from([100.0, 25.0, 5.0, 1000.0]))
def test_the_closest_rows_are_those_reading_every_cell_gives(
    point: tuple[float, float], radius: float
) -> None:
    places = gazetteer_index.places()
    every = (
        (great_circle_km(*point, places.latitudes[r], places.longitudes[r]), r)
        for r in rows_around(places, *point, radius)
    )
    assert _closest(places, *point, radius) == heapq.nsmallest(_FINAL_PICK, every)


@pytest.mark.parametrize(
    ("latitude", "longitude", "nearer_by_great_circle", "nearer_by_geodesic"),
    [(48.5675, 10.825, "Kuhlenthal", "Westendorf"), (-1.6693, -80.3118, "Pajan", "Pedro Carbo")],
)
def test_reverse_gives_the_nearest_by_geodesic_where_the_great_circle_ranks_another_first(
    latitude: float, longitude: float, nearer_by_great_circle: str, nearer_by_geodesic: str
) -> None:
    places = gazetteer_index.places()
    first = min(
        rows_around(places, latitude, longitude, 100.0),
        key=lambda r: great_circle_km(latitude, longitude, places.latitudes[r], places.longitudes[r]),
    )
    assert places.names[first] == nearer_by_great_circle
    place = GazetteerGeocoder().reverse(latitude, longitude)
    assert place is not None and place.name == nearer_by_geodesic
    assert place == measured_reverse(latitude, longitude, 100.0)


# The index cache


@pytest.fixture
def small_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A gazetteer file of a few thousand places (one with a quoted name), and no index built yet."""
    lines = gazetteer_index.data_path().read_text(encoding="utf-8").splitlines()[:3000]
    lines.append('-13.5,-71.9,"Cusco, Centro",Cusco,Provincia de Cusco,PE')
    path = tmp_path / "places.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    monkeypatch.setattr(gazetteer_index, "data_path", lambda: path)
    forget_index(monkeypatch)
    return path


def forget_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new process: no index in memory."""
    monkeypatch.setattr(gazetteer_index, "_places", None)
    monkeypatch.setattr(gazetteer_index, "_names", None)


def test_the_index_is_kept_and_read_back_as_it_was_built(
    small_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "instance"
    geocoder = GazetteerGeocoder(cache_folder=folder)
    found, near = geocoder.search("Cusco"), geocoder.reverse(-13.5, -71.9)
    assert sorted(p.name for p in folder.iterdir()) == ["gazetteer-names.cache", "gazetteer-places.cache"]

    forget_index(monkeypatch)

    def no_build(*args: object) -> None:
        raise AssertionError("the index was built, not read")

    monkeypatch.setattr(gazetteer_index, "build_places", no_build)
    monkeypatch.setattr(gazetteer_index, "build_names", no_build)
    assert geocoder.search("Cusco") == found and geocoder.reverse(-13.5, -71.9) == near
    assert near is not None and near.name == "Cusco, Centro"


def test_the_cache_is_equal_to_a_fresh_build(small_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "instance"
    built = gazetteer_index.build_places(small_data)
    index_cache.save(folder, "places", small_data, gazetteer_index.PLACES_CODEC, built)
    assert index_cache.load(folder, "places", small_data, gazetteer_index.PLACES_CODEC) == built
    names = gazetteer_index.build_names(built)
    index_cache.save(folder, "names", small_data, gazetteer_index.NAMES_CODEC, names)
    assert index_cache.load(folder, "names", small_data, gazetteer_index.NAMES_CODEC) == names


def test_a_cache_of_another_data_file_is_not_used(small_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "instance"
    built = gazetteer_index.build_places(small_data)
    index_cache.save(folder, "places", small_data, gazetteer_index.PLACES_CODEC, built)
    with small_data.open("a", encoding="utf-8") as handle:
        handle.write("10.0,10.0,Newtown,Somewhere,,NG\r\n")
    assert index_cache.load(folder, "places", small_data, gazetteer_index.PLACES_CODEC) is None
    assert "Newtown" in gazetteer_index.places(folder).names
    # ... and the cache now holds the new data.
    assert (
        index_cache.load(folder, "places", small_data, gazetteer_index.PLACES_CODEC)
        == gazetteer_index.places()
    )


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]),  # one bit of the content
        lambda raw: raw[: len(raw) // 2],  # cut short
        lambda raw: b"",
        lambda raw: b"\x00" * 100,
    ],
)
def test_a_damaged_cache_is_built_again_and_replaced(
    small_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: object
) -> None:
    folder = tmp_path / "instance"
    built = gazetteer_index.build_places(small_data)
    index_cache.save(folder, "places", small_data, gazetteer_index.PLACES_CODEC, built)
    cache = index_cache.file_for(folder, "places")
    assert callable(damage)
    cache.write_bytes(damage(cache.read_bytes()))
    with caplog.at_level(logging.WARNING):
        assert gazetteer_index.places(folder) == built
    assert index_cache.load(folder, "places", small_data, gazetteer_index.PLACES_CODEC) == built


def test_content_of_the_wrong_shape_is_refused(small_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "instance"
    built = gazetteer_index.build_places(small_data)
    # A writer that got the columns wrong: a short column, and rows out of range.
    short = gazetteer_index.Places(**{**built.__dict__, "admin1": built.admin1[:-1]})
    index_cache.save(folder, "places", small_data, gazetteer_index.PLACES_CODEC, short)
    assert index_cache.load(folder, "places", small_data, gazetteer_index.PLACES_CODEC) is None
    beyond = gazetteer_index.Places(**{**built.__dict__, "cells": {0: (0, len(built.names) + 1)}})
    index_cache.save(folder, "places", small_data, gazetteer_index.PLACES_CODEC, beyond)
    assert index_cache.load(folder, "places", small_data, gazetteer_index.PLACES_CODEC) is None


def test_a_folder_that_cannot_be_written_only_means_no_cache(small_data: Path, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    geocoder = GazetteerGeocoder(cache_folder=not_a_folder)
    place = geocoder.reverse(-13.5, -71.9)
    assert place is not None and place.name == "Cusco, Centro"
    assert list(tmp_path.glob("**/*.tmp")) == []


# Saves a part of 1 MB into the folder and reads it back, again and again, once every process is ready; says
# what it read. index_cache is loaded from its file alone (it needs only the standard library): a process
# starts in a few hundredths of a second.
_SAVE_AND_LOAD = """
import importlib.util, json, logging, sys
from pathlib import Path

spec = importlib.util.spec_from_file_location("index_cache", sys.argv[1])
index_cache = sys.modules["index_cache"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(index_cache)
folder, data, rounds = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
warnings = []
handler = logging.Handler(logging.WARNING)
handler.emit = lambda record: warnings.append(record.getMessage())
logging.getLogger(index_cache.__name__).addHandler(handler)
codec = index_cache.Codec(pack=lambda value: value, unpack=lambda value: value)
part = (sys.argv[5], bytes(range(256)) * 4096)
print("ready", flush=True)
sys.stdin.readline()
seen = {"whole": 0, "none": 0, "other": 0}
for _ in range(rounds):
    index_cache.save(folder, "places", data, codec, part)
    got = index_cache.load(folder, "places", data, codec)
    seen["whole" if got is not None and got[1] == part[1] else "none" if got is None else "other"] += 1
print(json.dumps({"seen": seen, "warnings": warnings}))
"""


def test_processes_sharing_a_cache_folder_never_read_half_a_file(small_data: Path, tmp_path: Path) -> None:
    """Processes share one cache folder: an app's workers, and the test suite's (pytest-xdist), whose apps
    all have the project's instance folder. Each writes a temporary file of its own and renames it over the
    cache, so that a reader finds a whole file, old or new (from any process), never half of one or none."""
    folder = tmp_path / "instance"
    rounds = 30
    script = [sys.executable, "-c", _SAVE_AND_LOAD, index_cache.__file__, folder, small_data, str(rounds)]
    with contextlib.ExitStack() as stack:
        processes = [
            stack.enter_context(
                # The test's own Python running the test's own script: no outside input.
                subprocess.Popen(  # noqa: S603
                    [*script, name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                )
            )
            for name in ("first", "second", "third")
        ]
        for process in processes:
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        for process in processes:  # all at once
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in processes:
            output, _ = process.communicate(timeout=120)
            assert process.returncode == 0
            assert json.loads(output) == {"seen": {"whole": rounds, "none": 0, "other": 0}, "warnings": []}
    assert [path.name for path in folder.iterdir()] == ["gazetteer-places.cache"]  # no temporary file left


def test_make_geocoder_gives_the_gazetteer_its_cache_folder(tmp_path: Path) -> None:
    geocoder = make_geocoder({}, cache_folder=tmp_path)
    assert isinstance(geocoder, GazetteerGeocoder) and geocoder.cache_folder == tmp_path
