"""PC/SC fixtures (a private pcscd with vpcd readers, virtual cards) for the card tests."""

from tests.pcsc_fixtures import blank_card, pcscd, vcard_factory  # noqa: F401
