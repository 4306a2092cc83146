"""The filter form's suggestions come from what the visitor may see: the admin-1 region names offered on the
map and the timeline are those of published incidents for the public, and of every incident for staff.

(The incident types the form offers are the vocabulary an admin keeps, not taken from incidents.)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

# A region name that only an unpublished incident has, for each status the public may not see.
UNPUBLISHED_REGIONS = {
    "draft": "Draftregion-3b1f",
    "in_review": "Reviewregion-8c2e",
    "retracted": "Retractedregion-5d7a",
}
PUBLISHED_REGION = "Publishedregion-9e4c"
PAGES = ["/", "/timeline", "/?date_from=never", "/timeline?date_from=never"]  # and the pages of a bad filter


@pytest.fixture
def regions(add_incident: Callable[..., int]) -> None:
    for status, region in UNPUBLISHED_REGIONS.items():
        add_incident(f"An incident ({status})", status=status, admin1=region)
    add_incident("A published incident", admin1=PUBLISHED_REGION)
    add_incident("A draft in the published incident's region", status="draft", admin1=PUBLISHED_REGION)


def _suggestion(region: str) -> str:
    return f'<option value="{region}">'


@pytest.mark.usefixtures("regions")
@pytest.mark.parametrize("url", PAGES)
def test_the_public_is_offered_the_regions_of_published_incidents_only(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == (400 if "never" in url else 200)
    page = response.get_data(as_text=True)
    assert _suggestion(PUBLISHED_REGION) in page
    for region in UNPUBLISHED_REGIONS.values():
        assert region not in page, (url, region)


@pytest.mark.usefixtures("regions")
@pytest.mark.parametrize("url", PAGES)
def test_staff_are_offered_the_regions_of_every_incident(editor_client: FlaskClient, url: str) -> None:
    page = editor_client.get(url).get_data(as_text=True)
    for region in [PUBLISHED_REGION, *UNPUBLISHED_REGIONS.values()]:
        assert _suggestion(region) in page, (url, region)
