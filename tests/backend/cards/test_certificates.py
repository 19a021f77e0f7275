"""What a card certificate says, and the cached verdict on it."""

import datetime as dt
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from backend.cards import ca
from backend.cards.certificates import POLICY_PIN, POLICY_TAP, CardIdentity, certify
from backend.cards.chain import CertificateMalformed, CertificateRefused, TrustStore
from backend.reasons import Reason

NIK = "3171015705900001"


@pytest.fixture
def issuing(tmp_path):
    return ca.init_ca(tmp_path / "ca", "Kota Uji")


def _ident(days=365):
    return CardIdentity(NIK, uuid.uuid4(), "ABCD-EFGH-JKMN",
                        dt.datetime.now(dt.UTC) + dt.timedelta(days=days))


def _cert(issuing, key_ref="9A", ident=None):
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return certify(issuing, key, key_ref, ident or _ident())


def _ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


def test_subject_serial_number_is_the_citizens_national_number(issuing):
    cert = _cert(issuing)
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == NIK


def test_the_card_uuid_is_in_the_subject_alternative_name(issuing):
    ident = _ident()
    cert = _cert(issuing, ident=ident)
    uris = _ext(cert, x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier)
    assert uris == [f"urn:uuid:{ident.card_uuid}"]


def test_key_usage_is_digital_signature_and_critical(issuing):
    usage = _ext(_cert(issuing), x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not usage.value.key_cert_sign


def test_extended_key_usage_is_client_auth(issuing):
    assert list(_ext(_cert(issuing), x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]


@pytest.mark.parametrize(("key_ref", "policy"), [("9A", POLICY_PIN), ("9E", POLICY_TAP)])
def test_the_policy_tells_the_pin_key_from_the_tap_key(issuing, key_ref, policy):
    policies = _ext(_cert(issuing, key_ref), x509.CertificatePolicies).value
    assert [p.policy_identifier for p in policies] == [policy]


def test_validity_ends_with_the_card(issuing):
    ident = _ident(days=30)
    cert = _cert(issuing, ident=ident)
    assert cert.not_valid_after_utc == ident.expires_at.replace(microsecond=0)


def test_validity_never_outlives_the_issuing_ca(issuing):
    cert = _cert(issuing, ident=_ident(days=365 * 40))
    assert cert.not_valid_after_utc == issuing.certificate.not_valid_after_utc


def test_only_p256_keys_are_certified(issuing):
    key = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(ValueError, match="P-256"):
        certify(issuing, key, "9A", _ident())


def test_a_verified_certificate_is_checked_once_and_then_served_from_the_cache(issuing):
    store = TrustStore([issuing.certificate])
    der = _cert(issuing).public_bytes(serialization.Encoding.DER)
    first = store.inspect(der)
    assert store.inspect(der) is first
    assert first.untrusted is None and first.usage_problem is None and first.key_ref == "9A"


def test_a_certificate_from_another_ca_is_untrusted(issuing, tmp_path):
    foreign = ca.init_ca(tmp_path / "foreign", "Kota Lain")
    store = TrustStore([issuing.certificate])
    verdict = store.inspect(_cert(foreign).public_bytes(serialization.Encoding.DER))
    with pytest.raises(CertificateRefused) as refused:
        verdict.check("9A", dt.datetime.now(dt.UTC))
    assert refused.value.reason == Reason.CERTIFICATE_UNTRUSTED


def test_a_certificate_naming_our_ca_but_signed_by_another_key_is_untrusted(issuing, tmp_path):
    impostor = ca.IssuingCA(issuing.certificate, ec.generate_private_key(ec.SECP256R1()),
                            issuing.root)
    store = TrustStore([issuing.certificate])
    verdict = store.inspect(_cert(impostor).public_bytes(serialization.Encoding.DER))
    assert verdict.untrusted and "signature" in verdict.untrusted


def test_bytes_that_are_not_a_certificate_are_malformed(issuing):
    with pytest.raises(CertificateMalformed):
        TrustStore([issuing.certificate]).inspect(b"\x30\x03\x02\x01\x01")
