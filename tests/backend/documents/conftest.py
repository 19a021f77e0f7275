import pytest

from backend.db import session
from backend.documents import civil


@pytest.fixture
def issue_civil(app):
    """Issue a civil document for a citizen and commit it, as a service call would."""

    def issue(kind, citizen, purpose="pembukaan rekening bank"):
        issued = civil.issue_civil(session(), kind, citizen.id, purpose=purpose)
        session().commit()
        return issued

    return issue
