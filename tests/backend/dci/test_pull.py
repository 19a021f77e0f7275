"""`registry pull` against a second hub as the peer: its own PostgreSQL database,
served for real (`satukartu serve`, gunicorn) with its own Celery worker, seeded with
family cards. Our hub (the test's app, served over HTTP too, for the peer's callbacks)
pulls them over SPDCI; every request and answer of the exchange, both ways (the
token endpoint is OAuth2's, not the document's), is validated against the standard's
document with openapi-core."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from flask import Flask, request
from openapi_core import OpenAPI
from openapi_core.contrib.flask import FlaskOpenAPIRequest
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from sqlalchemy import func, select
from werkzeug.serving import make_server

from backend.audit.models import AuditRecord
from backend.cli import main
from backend.db import session
from backend.dci import client, outbox, peers, pull, spec
from backend.dci.models import DciPeer
from backend.registry.dedup.models import DuplicateCandidate
from backend.registry.history import Actor
from backend.registry.models import Citizen, Household, HouseholdMember, RegistryChange
from backend.testing import databases
from backend.testing.registry import make_citizen
from tests.support.private_services import free_port, wait_until
from tests.support.served_hub import SATUKARTU, serving

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("dci_pull")]

PEER = "hub-b"
REGION = "3171020001"
ROOT = Path(__file__).resolve().parents[3]


@dataclass
class PeerHub:
    """The other hub: its URL, its settings, what was seeded there."""

    base: str
    env: dict[str, str]
    seeded: list[dict[str, Any]] = field(default_factory=list)

    def run(self, command: str, **args: Any) -> Any:
        done = subprocess.run([sys.executable, "-m", "tests.backend.dci.peer_side", command,
                               json.dumps(args)], env=self.env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/api/v1/health", timeout=30).status_code == 200
    except requests.RequestException:
        return False


@contextmanager
def peer_hub(tmp_path: Path, template: str, *, worker: bool, credentials: Path
             ) -> Iterator[PeerHub]:
    name = databases.unique_name("sk_peer")
    url = databases.create_pg_database(name, template=template)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SATUKARTU_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env |= {"SATUKARTU_DATABASE_URL": url, "SATUKARTU_INSTANCE_DIR": str(tmp_path / "peer"),
            "SATUKARTU_ORIGIN": base, "SATUKARTU_DCI_SENDER_ID": PEER,
            "SATUKARTU_DCI_PEER_CREDENTIALS_FILE": str(credentials),
            "PYTHONPATH": str(ROOT)}
    hub = PeerHub(base, env)
    log = tmp_path / "peer.log"
    queue = None
    try:
        hub.run("jwks")  # its signing key, made before two processes could race to make it
        with serving(env, port, log, lambda: _answers(base), workers=1, wait=90):
            if worker:
                with open(log, "ab") as out:
                    queue = subprocess.Popen([SATUKARTU, "worker", "--concurrency", "1",
                                              "--pool", "solo"], env=env, stdout=out,
                                             stderr=subprocess.STDOUT)
            yield hub
    finally:
        if queue is not None:
            queue.terminate()
            queue.wait(30)
        databases.drop_pg_database(name)


@dataclass
class Exchanges:
    """Every exchange seen, each validated against the standard's document."""

    document: OpenAPI
    seen: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client_hook(self, answer: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        """Our requests to the peer and its answers (the token endpoint is not the
        document's: OAuth2's own)."""
        if answer.request.path_url.endswith("/oauth2/client/token"):
            return
        self.document.validate_request(RequestsOpenAPIRequest(answer.request))
        self.document.validate_response(RequestsOpenAPIRequest(answer.request),
                                        RequestsOpenAPIResponse(answer))
        with self.lock:
            self.seen.append(answer.request.path_url)


@contextmanager
def our_hub(app: Flask, sender_id: str) -> Iterator[tuple[str, Exchanges]]:
    """The test's hub served over HTTP; the peer's callbacks to it (on-subscribe,
    notify: with our token, by the credentials the peer lists) and our answers
    validated against the document."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config.update(DCI_SENDER_ID=sender_id, DCI_PULL_PEERS=(PEER,))
    inbound = OpenAPI.from_dict(spec.document(base + "/dci"))
    checked = Exchanges(inbound)

    @app.after_request
    def _validate(answer: Any) -> Any:
        if request.path.startswith("/dci/registry/"):
            try:
                inbound.validate_request(FlaskOpenAPIRequest(request))
                inbound.validate_response(FlaskOpenAPIRequest(request),
                                          WerkzeugOpenAPIResponse(answer))
            except Exception as exc:
                checked.errors.append(f"{request.path}: {exc!r}")
            with checked.lock:
                checked.seen.append(request.path)
        return answer

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, checked
    finally:
        server.shutdown()
        thread.join(10)


@dataclass
class Setup:
    peer: PeerHub
    base: str
    inbound: Exchanges
    outbound: Exchanges
    credentials: client.Credentials

    def client(self, app: Flask, hooks: list[Any]) -> client.PeerClient:
        row = session().get(DciPeer, PEER)
        return client.PeerClient(app.config, row, self.peer.base + "/dci", self.credentials,
                                 hooks=[*hooks, self.outbound.client_hook])


def _credentials(path: Path, sender_id: str, token_uri: str, issued: dict[str, str]) -> None:
    """A peer credentials file (SATUKARTU_DCI_PEER_CREDENTIALS_FILE) of one entry."""
    path.write_text(json.dumps({sender_id: {"token_uri": token_uri, **issued}}))


@contextmanager
def two_hubs(app: Flask, tmp_path: Path, template: str, *, worker: bool = False
             ) -> Iterator[Setup]:
    """Each hub registered at the other (its key, its URI) and holding its client
    credentials there; the peer seeded with three family cards of REGION."""
    sender_id = "satukartu-a"
    theirs = tmp_path / "peer-credentials.json"
    with our_hub(app, sender_id) as (base, inbound), \
            peer_hub(tmp_path, template, worker=worker, credentials=theirs) as hub:
        issued = hub.run("register", sender_id=sender_id, callback_uri=base + "/dci",
                         jwks=outbox.published(app.config))
        ours = tmp_path / "our-credentials.json"
        _credentials(ours, PEER, hub.base + "/dci/oauth2/client/token", issued)
        app.config["DCI_PEER_CREDENTIALS_FILE"] = str(ours)
        row, secret = peers.add(session(), sender_id=PEER, name="Peer hub",
                                 callback_uri=hub.base + "/dci", scope="dci.person",
                                 jwks_document=json.dumps(hub.run("jwks")))
        _credentials(theirs, sender_id, base + "/dci/oauth2/client/token",
                     {"client_id": row.client_id, "client_secret": secret})
        session().commit()
        hub.seeded = hub.run("seed", region=REGION, households=3)
        outbound = Exchanges(OpenAPI.from_dict(spec.document(hub.base + "/dci")))
        yield Setup(hub, base, inbound, outbound, client.credentials(app.config, PEER))


def _pull(app: Flask, setup: Setup, *, subscribe: bool = False, hooks: list[Any] | None = None
          ) -> pull.Counts:
    peer_client = setup.client(app, hooks or [])
    try:
        counts = pull.pull(session(), peer_client, REGION, Actor("system", "test"),
                           page_size=2)
        session().commit()
        if subscribe:
            pull.subscribe(session(), peer_client, PEER, REGION)
            session().commit()
    finally:
        peer_client.close()
    return counts


def _count(model: Any) -> int:
    return session().scalar(select(func.count()).select_from(model))


def test_a_pull_imports_every_family_card_of_the_area_page_by_page(
        committing_app, tmp_path, pg_template):
    with two_hubs(committing_app, tmp_path, pg_template[0]) as setup:
        counts = _pull(committing_app, setup)
    assert (counts.records, counts.citizens_created, counts.households_created) == (3, 9, 3)
    assert setup.outbound.seen.count("/dci/registry/sync/search") == 2  # 2 + 1 per page
    for family in setup.peer.seeded:
        ours = session().scalar(select(Household).where(
            Household.family_card_number == family["family_card_number"]))
        members = session().scalars(select(Citizen.national_number).join(
            HouseholdMember, HouseholdMember.citizen_id == Citizen.id).where(
            HouseholdMember.household_id == ours.id))
        assert sorted(members) == sorted(family["members"])


def test_a_person_already_registered_is_updated_not_registered_again(
        committing_app, tmp_path, pg_template):
    with two_hubs(committing_app, tmp_path, pg_template[0]) as setup:
        head = setup.peer.seeded[0]["members"][0]
        known = make_citizen(national_number=head, sex="M", full_name="Agus Wibowo",
                             birth_date=dt.date(1970, 2, 3), region_code=REGION,
                             address="Jl. Lama 1")
        counts = _pull(committing_app, setup)
    assert (counts.citizens_created, counts.citizens_updated) == (8, 1)
    assert session().scalar(select(func.count()).where(Citizen.national_number == head)) == 1
    assert session().get(Citizen, known.id).address != "Jl. Lama 1"
    trail = session().scalars(select(AuditRecord.action).where(
        AuditRecord.citizen_id == known.id)).all()
    assert "registry.citizen.update" in trail


def test_a_second_pull_imports_nothing(committing_app, tmp_path, pg_template):
    with two_hubs(committing_app, tmp_path, pg_template[0]) as setup:
        _pull(committing_app, setup)
        before = (_count(Citizen), _count(Household), _count(RegistryChange),
                  _count(DuplicateCandidate))
        again = _pull(committing_app, setup)
    assert not again.wrote
    assert again.citizens_unchanged == 9
    assert (_count(Citizen), _count(Household), _count(RegistryChange),
            _count(DuplicateCandidate)) == before


def _tamper(answer: requests.Response, *_args: Any, **_kwargs: Any) -> None:
    """A man in the middle: the answer's records changed, its signature kept."""
    if answer.request.path_url.endswith("/sync/search") and answer.status_code == 200:
        answer._content = answer.content.replace(b"Rizky Pratama", b"Rizky Palsu")


def test_an_answer_changed_after_the_peer_signed_it_is_refused_and_nothing_is_imported(
        committing_app, tmp_path, pg_template):
    with two_hubs(committing_app, tmp_path, pg_template[0]) as setup:
        with pytest.raises(client.PeerError) as refused:
            _pull(committing_app, setup, hooks=[_tamper])
        session().rollback()
    assert refused.value.kind == "bad signature"
    assert (_count(Citizen), _count(Household)) == (0, 0)


def test_a_change_at_the_peer_reaches_us_by_the_subscription(
        committing_app, tmp_path, pg_template):
    with two_hubs(committing_app, tmp_path, pg_template[0], worker=True) as setup:
        _pull(committing_app, setup, subscribe=True)
        wait_until(lambda: "/dci/registry/on-subscribe" in setup.inbound.seen, 90,
                   "the peer's on-subscribe")
        child = setup.peer.seeded[1]["members"][2]
        setup.peer.run("move", national_number=child, address="Jl. Baru 12")

        def arrived() -> bool:
            session().rollback()  # a fresh snapshot
            return session().scalar(select(Citizen.address).where(
                Citizen.national_number == child)) == "Jl. Baru 12"

        wait_until(arrived, 120, "the notification")
    assert "/dci/registry/notify" in setup.inbound.seen
    assert setup.inbound.errors == []
    assert _count(Citizen) == 9
    assert "dci.pull.notified" in session().scalars(select(AuditRecord.action)).all()


def _cli(app: Flask, monkeypatch: pytest.MonkeyPatch, url: str,
         credentials: Path | None = None) -> Any:
    monkeypatch.setenv("SATUKARTU_DATABASE_URL", str(app.config["DATABASE_URL"]))
    monkeypatch.setenv("SATUKARTU_INSTANCE_DIR", str(app.config["INSTANCE_DIR"]))
    monkeypatch.setenv("SATUKARTU_DCI_SENDER_ID", str(app.config["DCI_SENDER_ID"]))
    monkeypatch.setenv("SATUKARTU_DCI_PEER_CREDENTIALS_FILE",
                       str(credentials or app.config["DCI_PEER_CREDENTIALS_FILE"]))
    return CliRunner().invoke(main, ["registry", "pull", REGION, "--from", PEER, "--url", url,
                                     "--page-size", "2", "--no-subscribe"])


def test_the_command_pulls_and_a_second_run_writes_nothing(
        committing_app, tmp_path, pg_template, monkeypatch):
    with two_hubs(committing_app, tmp_path, pg_template[0]) as setup:
        first = _cli(committing_app, monkeypatch, setup.peer.base + "/dci")
        second = _cli(committing_app, monkeypatch, setup.peer.base + "/dci")
    assert first.exit_code == 0, first.output
    assert "9 citizen(s) registered" in first.output
    assert second.exit_code == 0, second.output
    assert "0 citizen(s) registered, 0 updated, 9 unchanged" in second.output
    assert setup.credentials.client_secret not in first.output + second.output


def test_a_refused_token_exits_non_zero_and_imports_nothing(
        committing_app, tmp_path, pg_template, monkeypatch):
    with two_hubs(committing_app, tmp_path, pg_template[0]) as setup:
        wrong = tmp_path / "wrong-credentials.json"
        _credentials(wrong, PEER, setup.credentials.token_uri, {
            "client_id": setup.credentials.client_id, "client_secret": "not-the-secret"})
        done = _cli(committing_app, monkeypatch, setup.peer.base + "/dci", wrong)
    assert done.exit_code == 1
    assert "token refused" in done.output
    assert _count(Citizen) == 0


def test_a_peer_that_cannot_be_reached_exits_non_zero_and_imports_nothing(
        committing_app, tmp_path, pg_template, monkeypatch):
    with two_hubs(committing_app, tmp_path, pg_template[0]):
        done = _cli(committing_app, monkeypatch, f"http://127.0.0.1:{free_port()}/dci")
    assert done.exit_code == 1
    assert "peer unreachable" in done.output
    assert _count(Citizen) == 0
