"""The public home page and API reference: numbers and endpoints, never a person's data."""

import pytest

import admin


@pytest.fixture
def site(app):
    if "home" not in app.blueprints:
        admin.init_app(app)
    return app.test_client()


def test_home_page_counts_citizens_without_naming_them(site, citizen):
    person = citizen()
    page = site.get("/").get_data(as_text=True)
    assert "citizens" in page
    assert person.full_name not in page
    assert person.national_number not in page


def test_home_page_lists_the_enabled_programmes(site):
    page = site.get("/").get_data(as_text=True)
    assert "food" in page


def test_api_reference_lists_every_documented_operation(site):
    spec = site.get("/api/v1/openapi.json").json
    page = site.get("/api").get_data(as_text=True)
    for path in spec["paths"]:
        assert path in page
