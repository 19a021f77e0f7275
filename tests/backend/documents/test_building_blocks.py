"""The shared pieces: how values print, deterministic PDFs, the city's signature."""

import pytest

from backend.documents import formats, issuing, render, signing
from tests.backend.documents import pdftools

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/noto")


@pytest.mark.parametrize(("amount", "printed"), [
    (0, "Rp 0"), (750, "Rp 750"), (124_000, "Rp 124.000"), (1_250_000, "Rp 1.250.000"),
    (-5_000, "-Rp 5.000")])
def test_money_is_grouped_the_indonesian_way(amount, printed):
    assert formats.money(amount) == printed


def test_masked_name_keeps_initials_and_hides_length():
    assert formats.mask_name("Siti Nurhaliza Rahayu") == "S*** N*** R***"
    assert formats.mask_name("Al  Bo") == formats.mask_name("Ahmad Budiman")


def test_region_code_prints_in_its_four_levels():
    assert formats.region("3273010005") == "32.73.01.0005"
    assert formats.region("327301") == "32.73.01"


def test_rate_uses_a_decimal_comma_and_a_dash_when_undefined():
    assert formats.percent(124, 600) == "20,7 %"
    assert formats.percent(5, 0) == "–"


def _letter():
    k = render.kit("Kota Contoh", FONT_DIRS)
    story = [render.letterhead(k, "DINAS"), k.p("Nama: Siti / สมชาย"),
             render.grid(k, ["a", "b"], [[1, "x"]], numeric=(0,))]
    footer = render.Footer("https://hub.test/api/v1/documents/x/verify", "note", "print")
    return render.build(story, k=k, title="t", footer=footer)


def test_the_same_story_renders_to_the_same_bytes():
    assert _letter() == _letter()


def test_indonesian_and_thai_text_both_read_back():
    words = pdftools.text(_letter())
    assert "Nama: Siti" in words and "สมชาย" in words


def test_canonical_content_ignores_key_order_and_refuses_floats():
    assert issuing.canonical({"b": 1, "a": "é"}) == issuing.canonical({"a": "é", "b": 1})
    with pytest.raises(TypeError):
        issuing.canonical({"amount": 1.5})


def test_public_ids_are_unguessable_and_url_safe():
    ids = {issuing.new_public_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 24 and i.isalnum() and i.islower() for i in ids)


def test_signing_key_is_made_once_private_and_reused(tmp_path):
    path = tmp_path / "keys" / "document-signing.key"
    key = signing.load_key(str(path))
    assert path.stat().st_mode & 0o777 == 0o600
    signature = signing.sign(key, "id1", "receipt", "ab" * 32)
    again = signing.SigningKey(signing._read_or_create(path))
    assert again.key_id == key.key_id
    assert signing.verify(again, "id1", "receipt", "ab" * 32, signature)


def test_a_signature_does_not_move_to_another_document_or_kind(tmp_path):
    key = signing.load_key(str(tmp_path / "k.pem"))
    signature = signing.sign(key, "id1", "receipt", "ab" * 32)
    assert not signing.verify(key, "id2", "receipt", "ab" * 32, signature)
    assert not signing.verify(key, "id1", "domicile_letter", "ab" * 32, signature)
    assert not signing.verify(key, "id1", "receipt", "cd" * 32, signature)
    assert not signing.verify(key, "id1", "receipt", "ab" * 32, "not base64!")
