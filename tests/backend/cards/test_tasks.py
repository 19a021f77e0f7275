"""The cards' periodic work: CRLs from Celery (a real worker on Redis), and tidying up."""

import datetime as dt
import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from cryptography import x509
from sqlalchemy import insert, select

from backend.cards import ca, crl, lifecycle
from backend.cards.context import state
from backend.cards.models import Challenge, PublishedCrl
from backend.cards.store import digest
from backend.cards.tasks import BEAT, publish_crl, purge
from backend.db import database, session
from backend.tasks import celery_init_app
from backend.testing.cards import make_soft_card, record_soft_card
from backend.testing.registry import make_citizen
from tests.support.task_queue import private_queue

REDIS = "redis://127.0.0.1:6379/0"


def test_beat_publishes_a_crl_every_hour(committing_app):
    schedule = celery_init_app(committing_app).conf.beat_schedule
    assert schedule["cards-publish-crl-hourly"] == BEAT["cards-publish-crl-hourly"]
    assert schedule["cards-publish-crl-hourly"]["schedule"] == 3600.0


def test_the_crl_task_writes_the_signed_crl_to_the_ca_folder(app, card_ca, soft_card):
    card = soft_card()
    lifecycle.revoke(session(), card.serial, "keyCompromise")
    session().commit()
    publish_crl.run()
    der = (Path(app.config["CA_DIR"]) / crl.CRL_DIR / crl.CRL_FILE).read_bytes()
    published = x509.load_der_x509_crl(der)
    assert published.is_signature_valid(card_ca.key.public_key())
    assert published.get_revoked_certificate_by_serial_number(
        card.certificates["9A"].serial_number) is not None


def test_purge_deletes_expired_challenges_only(app, card_ca):
    now = dt.datetime.now(dt.UTC)
    for hours, tag in ((-1, b"old"), (1, b"new")):
        session().execute(insert(Challenge).values(
            nonce_hash=digest(tag), terminal_id="kiosk-x",
            expires_at=now + dt.timedelta(hours=hours)))
    session().commit()
    assert purge.run()["challenges"] == 1
    left = session().execute(select(Challenge.nonce_hash)).scalars().all()
    assert left == [digest(b"new")]


@pytest.mark.celery
def test_a_worker_publishes_the_crl_when_asked(committing_app):
    committing_app.config["BROKER_URL"] = REDIS
    ca.init_ca(committing_app.config["CA_DIR"], "Kota Uji")
    state(committing_app).reload()
    holder = make_citizen()
    record_soft_card(make_soft_card(state().issuing_ca(), holder.national_number, holder.id))
    celery = celery_init_app(committing_app)
    queue = private_queue(celery, "cards-test")  # not shared with anyone's worker
    with start_worker(celery, pool="solo", perform_ping_check=False, queues=[queue],
                      shutdown_timeout=10):
        publish_crl.apply_async()
        deadline = time.monotonic() + 30
        while not _crl_numbers() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert _crl_numbers() == [1]
    assert (Path(committing_app.config["CA_DIR"]) / crl.CRL_DIR / crl.CRL_FILE).exists()


def _crl_numbers():
    with database().engine.connect() as conn:
        return list(conn.execute(select(PublishedCrl.number)).scalars())
