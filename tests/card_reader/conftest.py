"""The PC/SC fixtures for this package; other packages can use `tests.pcsc_fixtures`."""

from tests.pcsc_fixtures import (  # noqa: F401
    blank_card,
    issued_card,
    pcscd,
    test_ca,
    vcard_factory,
)
