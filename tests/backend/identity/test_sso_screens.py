"""Single sign-on from the staff screens, end to end against a real OpenID Connect
provider (`tests.support.oidc_provider`) over real HTTP: the test's client is the
browser, following the hub's redirect to the provider and the provider's back."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

import admin
from admin.common.sessions import STAFF_COOKIE
from backend.identity import oidc
from backend.identity.resolver import EXTENSION
from backend.testing.identity import bearer
from tests.admin.conftest import ScreenClient
from tests.support.oidc_provider import running_provider

SCREEN_CALLBACK = "/staff/sso/callback"


@pytest.fixture(scope="module")
def provider():
    with running_provider() as city:
        yield city


@pytest.fixture
def site(app, provider):
    """The hub with its screens, registered at the provider for both callbacks."""
    registration = provider.register(app.config["ORIGIN"] + SCREEN_CALLBACK,
                                     app.config["ORIGIN"] + oidc.CALLBACK_PATH)
    app.config.update(OIDC_ISSUER=provider.issuer, OIDC_CLIENT_ID=registration.client_id,
                      OIDC_CLIENT_SECRET=registration.client_secret)
    app.extensions[EXTENSION].sso = oidc.make_client(app)
    admin.init_app(app)
    app.test_client_class = ScreenClient
    return app.test_client()


def to_the_provider_and_back(site, start="/staff/sso"):
    """The browser's part: the hub's redirect, the provider's answer; the callback's URL."""
    going = site.get(start)
    assert going.status_code == 302, going.get_data(as_text=True)
    back = requests.get(going.headers["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    return back.headers["Location"]


def on_the_hub(url):
    parts = urlsplit(url)
    return parts.path + "?" + parts.query


def staff_cookie(answer):
    return next((c for c in answer.headers.getlist("Set-Cookie")
                 if c.startswith(STAFF_COOKIE + "=")), None)


def reason_on(answer):
    found = re.search(r'data-reason="([^"]+)"', answer.get_data(as_text=True))
    return found.group(1) if found else None


def test_the_sign_in_page_offers_the_citys_account(site):
    page = site.get("/staff/sign-in?next=/staff/account").get_data(as_text=True)
    assert 'href="/staff/sso?next=/staff/account"' in page


def test_a_clerk_signs_in_with_the_citys_account(app, site, provider, staff_account):
    clerk = staff_account("clerk", email="wulan@kota.example")
    provider.sign_in("city-4711", email="wulan@kota.example")
    back = to_the_provider_and_back(site, "/staff/sso?next=/staff/account")
    assert back.startswith(app.config["ORIGIN"] + SCREEN_CALLBACK + "?")
    answer = site.get(on_the_hub(back))
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert answer.headers["Location"] == "/staff/account"
    cookie = staff_cookie(answer)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = site.get("/staff/account")
    assert page.status_code == 200 and clerk.username in page.get_data(as_text=True)


def test_without_next_the_clerk_lands_on_their_roles_screen(app, site, provider,
                                                            staff_account):
    staff_account("clerk", email="bayu@kota.example")
    provider.sign_in("city-4712", email="bayu@kota.example")
    answer = site.get(on_the_hub(to_the_provider_and_back(site)))
    with app.test_request_context():
        from admin.common.staff import home_for
        assert answer.headers["Location"] == home_for("clerk")


def test_the_provider_is_asked_for_a_code_with_pkce_s256_state_and_nonce(app, site,
                                                                          provider):
    provider.sign_in("city-0100", email="someone@kota.example")
    to_the_provider_and_back(site)
    asked = provider.authorizations[-1]
    assert asked["response_type"] == "code"
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["code_challenge"]) == 43  # base64url of a SHA-256
    assert asked["state"] and asked["nonce"]
    assert asked["redirect_uri"] == app.config["ORIGIN"] + SCREEN_CALLBACK


def test_a_tampered_state_is_refused(site, provider, staff_account):
    staff_account("clerk", email="ayu@kota.example")
    provider.sign_in("city-0005", email="ayu@kota.example")
    parts = urlsplit(to_the_provider_and_back(site))
    query = dict(parse_qsl(parts.query))
    query["state"] = query["state"][:-2] + ("AA" if not query["state"].endswith("AA") else "BB")
    answer = site.get(parts.path + "?" + urlencode(query))
    assert answer.status_code == 401
    assert reason_on(answer) == "sso_failed"
    assert staff_cookie(answer) is None


def test_an_unknown_subject_without_a_verified_email_gets_no_session(site, provider,
                                                                      staff_account):
    staff_account("clerk", email="rina@kota.example")
    provider.sign_in("city-0002", email="rina@kota.example", email_verified=False)
    answer = site.get(on_the_hub(to_the_provider_and_back(site)))
    assert answer.status_code == 403
    assert reason_on(answer) == "sso_no_account"
    assert staff_cookie(answer) is None
    assert site.get("/staff/account").status_code == 303


def test_an_agent_is_refused_on_the_staff_screens(site, provider, staff_account):
    staff_account("agent", email="toko@kota.example")
    provider.sign_in("city-0300", email="toko@kota.example")
    answer = site.get(on_the_hub(to_the_provider_and_back(site)))
    assert answer.status_code == 403
    assert reason_on(answer) == "role_not_allowed"
    assert staff_cookie(answer) is None


def test_a_flow_started_for_the_api_is_not_finished_on_the_screens(site, provider,
                                                                   staff_account):
    staff_account("clerk", email="dewi@kota.example")
    provider.sign_in("city-0400", email="dewi@kota.example")
    api_back = urlsplit(to_the_provider_and_back(site, "/api/v1/auth/oidc/login"))
    answer = site.get(SCREEN_CALLBACK + "?" + api_back.query)
    assert answer.status_code == 400 and reason_on(answer) == "sso_failed"
    assert staff_cookie(answer) is None


def test_the_apis_sign_on_still_answers_a_token(site, provider, staff_account):
    clerk = staff_account("clerk", email="eka@kota.example")
    provider.sign_in("city-0500", email="eka@kota.example")
    answer = site.get(on_the_hub(to_the_provider_and_back(site, "/api/v1/auth/oidc/login")))
    assert answer.status_code == 200
    me = site.get("/api/v1/auth/whoami", headers=bearer(answer.json["access_token"]))
    assert me.json["subject"] == clerk.username


def test_a_refused_sign_on_is_audited(site, provider, audit_log):
    provider.sign_in("city-0600", email="stranger@elsewhere.example")
    site.get(on_the_hub(to_the_provider_and_back(site)))
    refusals = [r for r in audit_log(action="staff.login") if r["outcome"] == "sso_no_account"]
    assert len(refusals) == 1 and '"sso"' in refusals[0]["details"]


def test_the_provider_refusing_shows_the_page_not_a_sign_in(site):
    answer = site.get(SCREEN_CALLBACK + "?error=access_denied&state=x")
    assert answer.status_code == 401 and reason_on(answer) == "sso_failed"
    assert 'role="alert"' in answer.get_data(as_text=True)


def test_without_a_provider_there_is_no_button_and_sso_says_so(app):
    admin.init_app(app)
    app.test_client_class = ScreenClient
    browser = app.test_client()
    assert 'href="/staff/sso' not in browser.get("/staff/sign-in").get_data(as_text=True)
    answer = browser.get("/staff/sso")
    assert answer.status_code == 404 and reason_on(answer) == "sso_disabled"
