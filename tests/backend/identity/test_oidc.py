"""Staff single sign-on against a real OpenID Connect provider running beside the test."""

from urllib.parse import urlsplit

import pytest
import requests
from joserfc.jwk import RSAKey

from backend.identity import oidc
from backend.identity.resolver import EXTENSION
from backend.reasons import Reason
from backend.testing.identity import bearer
from tests.support.oidc_provider import Provider


@pytest.fixture(scope="module")
def provider():
    city = Provider().start()
    yield city
    city.stop()


@pytest.fixture
def sso(app, provider):
    """The hub configured for the provider, as SATUKARTU_OIDC_* would configure it."""
    registration = provider.register(app.config["ORIGIN"] + oidc.CALLBACK_PATH)
    app.config.update(OIDC_ISSUER=provider.issuer, OIDC_CLIENT_ID=registration.client_id,
                      OIDC_CLIENT_SECRET=registration.client_secret)
    app.extensions[EXTENSION].sso = oidc.make_client(app)
    return provider


def go_to_provider(client):
    start = client.get("/api/v1/auth/oidc/login")
    assert start.status_code == 302, start.json
    answer = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return back.path + "?" + back.query


def sign_on(client):
    return client.get(go_to_provider(client))


def test_verified_email_links_the_account_and_signs_in(client, sso, staff_account):
    clerk = staff_account("clerk", email="wulan@kota.example")
    sso.sign_in("city-4711", email="Wulan@kota.example")
    answer = sign_on(client)
    assert answer.status_code == 200, answer.json
    assert (answer.json["username"], answer.json["role"]) == (clerk.username, "clerk")
    me = client.get("/api/v1/auth/whoami", headers=bearer(answer.json["access_token"]))
    assert me.json["subject"] == clerk.username


def test_a_linked_account_signs_in_by_subject_even_with_a_new_email(client, sso,
                                                                     staff_account):
    clerk = staff_account("clerk", email="joko@kota.example")
    sso.sign_in("city-5150", email="joko@kota.example")
    assert sign_on(client).status_code == 200
    sso.sign_in("city-5150", email="joko.w@kota.example")
    answer = sign_on(client)
    assert answer.status_code == 200
    assert answer.json["username"] == clerk.username


def test_unknown_identity_gets_no_account(client, sso):
    sso.sign_in("city-0001", email="stranger@elsewhere.example")
    answer = sign_on(client)
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.SSO_NO_ACCOUNT


def test_unverified_email_does_not_link(client, sso, staff_account):
    staff_account("clerk", email="rina@kota.example")
    sso.sign_in("city-0002", email="rina@kota.example", email_verified=False)
    assert sign_on(client).json["error"]["reason"] == Reason.SSO_NO_ACCOUNT


def test_email_already_linked_to_another_subject_does_not_link_again(client, sso,
                                                                     staff_account):
    staff_account("clerk", email="tono@kota.example")
    sso.sign_in("city-0003", email="tono@kota.example")
    assert sign_on(client).status_code == 200
    sso.sign_in("city-9999", email="tono@kota.example")
    assert sign_on(client).json["error"]["reason"] == Reason.SSO_NO_ACCOUNT


def test_disabled_account_is_refused(client, sso, staff_account, staff_token):
    clerk = staff_account("clerk", email="eko@kota.example")
    client.post(f"/api/v1/staff/{clerk.username}/disable", headers=bearer(staff_token("admin")))
    sso.sign_in("city-0004", email="eko@kota.example")
    answer = sign_on(client)
    assert answer.status_code == 403
    assert answer.json["error"]["reason"] == Reason.ACCOUNT_DISABLED


def test_callback_without_the_browser_session_is_refused(app, client, sso, staff_account):
    staff_account("clerk", email="ayu@kota.example")
    sso.sign_in("city-0005", email="ayu@kota.example")
    callback = go_to_provider(client)
    other_browser = app.test_client()
    answer = other_browser.get(callback)
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.SSO_FAILED
    assert answer.json["error"]["details"]["problem"] == "MismatchingStateError"


def test_a_callback_cannot_be_replayed(client, sso, staff_account):
    staff_account("clerk", email="dian@kota.example")
    sso.sign_in("city-0006", email="dian@kota.example")
    callback = go_to_provider(client)
    assert client.get(callback).status_code == 200
    replay = client.get(callback)
    assert replay.json["error"]["reason"] == Reason.SSO_FAILED


def test_id_token_signed_with_a_key_the_provider_does_not_publish_is_refused(
        client, sso, staff_account):
    staff_account("clerk", email="fajar@kota.example")
    sso.sign_in("city-0007", email="fajar@kota.example")
    assert sign_on(client).status_code == 200  # the hub now holds the provider's JWKS
    published = sso.key
    sso.key = RSAKey.generate_key(2048, parameters={"kid": "city-1"})
    try:
        answer = sign_on(client)
    finally:
        sso.key = published
    assert answer.status_code == 401
    assert answer.json["error"]["reason"] == Reason.SSO_FAILED
    assert answer.json["error"]["details"]["problem"] == "BadSignatureError"


def test_provider_refusal_is_passed_on(client, sso):
    answer = client.get("/api/v1/auth/oidc/callback?error=access_denied&state=x")
    assert answer.json["error"]["reason"] == Reason.SSO_FAILED
    assert answer.json["error"]["details"]["provider_error"] == "access_denied"


def test_callback_without_code_is_refused(client, sso):
    answer = client.get("/api/v1/auth/oidc/callback")
    assert answer.status_code == 400
    assert answer.json["error"]["reason"] == Reason.SSO_FAILED


def test_sso_sign_in_is_audited(client, sso, staff_account, audit_log):
    clerk = staff_account("clerk", email="gita@kota.example")
    sso.sign_in("city-0008", email="gita@kota.example")
    sign_on(client)
    records = audit_log(action="staff.login", subject_id=clerk.username)
    assert len(records) == 1 and '"sso"' in records[0]["details"]
    assert audit_log(action="staff.sso_link", subject_id=clerk.username)


def test_without_a_configured_provider_sso_is_disabled(client):
    for path in ("/api/v1/auth/oidc/login", "/api/v1/auth/oidc/callback?code=a&state=b"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert answer.json["error"]["reason"] == Reason.SSO_DISABLED
