"""The issuing CA's files: made once, chained to the root, keys kept private."""

import stat

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from backend.cards import ca
from backend.cards.chain import TrustStore


def test_init_makes_a_root_and_an_issuing_ca_that_chains_to_it(tmp_path):
    issuing = ca.init_ca(tmp_path / "ca", "Kota Uji")
    issuing.certificate.verify_directly_issued_by(issuing.root)
    assert issuing.root.subject == issuing.root.issuer


def test_issuing_ca_may_certify_end_entities_only(tmp_path):
    issuing = ca.init_ca(tmp_path / "ca", "Kota Uji")
    basic = issuing.certificate.extensions.get_extension_for_class(
        ca.x509.BasicConstraints).value
    assert basic.ca and basic.path_length == 0


def test_root_key_goes_to_the_offline_folder_not_beside_the_hub_files(tmp_path):
    ca.init_ca(tmp_path / "ca", "Kota Uji", root_key_dir=tmp_path / "usb")
    assert (tmp_path / "usb" / ca.ROOT_KEY).exists()
    assert not list((tmp_path / "ca").rglob(ca.ROOT_KEY))


def test_private_keys_are_readable_by_the_owner_only(tmp_path):
    ca.init_ca(tmp_path / "ca", "Kota Uji")
    for path in (tmp_path / "ca" / ca.ISSUING_KEY, tmp_path / "ca" / ca.OFFLINE_DIR / ca.ROOT_KEY,
                 tmp_path / "ca" / ca.CARD_KEY_SECRET):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_init_refuses_to_overwrite_an_existing_ca(tmp_path):
    ca.init_ca(tmp_path / "ca", "Kota Uji")
    with pytest.raises(ca.CaError, match="already exists"):
        ca.init_ca(tmp_path / "ca", "Kota Uji")


def test_loading_gives_the_same_issuing_key_and_certificate(tmp_path):
    made = ca.init_ca(tmp_path / "ca", "Kota Uji")
    loaded = ca.load_issuing_ca({"CA_DIR": str(tmp_path / "ca"), "CA_KEY_URI": ""})
    assert loaded.certificate == made.certificate
    assert isinstance(loaded.key, ec.EllipticCurvePrivateKey)
    assert loaded.key.public_key() == made.key.public_key()


def test_loading_without_a_ca_says_to_run_ca_init(tmp_path):
    with pytest.raises(ca.CaError, match="ca init"):
        ca.load_issuing_ca({"CA_DIR": str(tmp_path / "none"), "CA_KEY_URI": ""})


def test_a_pkcs11_key_uri_is_refused_with_a_clear_error(tmp_path):
    ca.init_ca(tmp_path / "ca", "Kota Uji")
    settings = {"CA_DIR": str(tmp_path / "ca"), "CA_KEY_URI": "pkcs11:token=city;object=ca",
                "CA_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so"}
    with pytest.raises(ca.CaError, match="PKCS#11"):
        ca.load_issuing_ca(settings)


def test_card_management_keys_differ_per_card_and_are_reproducible(tmp_path):
    ca.init_ca(tmp_path / "ca", "Kota Uji")
    settings = {"CA_DIR": str(tmp_path / "ca")}
    first = ca.card_management_key(settings, "11111111-1111-4111-8111-111111111111")
    again = ca.card_management_key(settings, "11111111-1111-4111-8111-111111111111")
    other = ca.card_management_key(settings, "22222222-2222-4222-8222-222222222222")
    assert first == again and first != other and len(first) == 16


def test_trust_store_of_an_uninitialised_folder_trusts_nothing(tmp_path):
    assert not TrustStore.from_directory(tmp_path / "empty")


def test_trust_store_ignores_an_issuing_certificate_not_from_the_root(tmp_path):
    ca.init_ca(tmp_path / "ca", "Kota Uji")
    other = ca.init_ca(tmp_path / "other", "Kota Lain")
    trusted = tmp_path / "ca" / ca.TRUSTED_DIR
    trusted.mkdir()
    (trusted / "stray.pem").write_bytes((tmp_path / "other" / ca.ISSUING_CERT).read_bytes())
    store = TrustStore.from_directory(tmp_path / "ca")
    assert other.certificate.subject.public_bytes() not in store.issuers
    assert len(store.issuers) == 1
