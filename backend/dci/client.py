"""Our side of another registry's SPDCI Social Registry API: the `registry pull` client.

The peer is a registry whose `/dci/` we call. It is registered with us as a peer
(`satukartu dci peer add`): its sender id and its JWKS, so that every answer it sends
is checked against its own keys, and its base URI (the callback URI of a peer is the
base of its API too). Our client credentials at its token endpoint are where our
callbacks to it find theirs: the peer credentials file
(`SATUKARTU_DCI_PEER_CREDENTIALS_FILE`, `outbox.credentials`), never the database,
never printed.

Every exchange: a bearer token (OAuth2 client credentials, Authlib's client, fetched
again when it expires), the envelope signed with our DCI key (`outbox.seal`), and
every answer's signature verified with the peer's registered keys before anything in
it is read. Failures are a `PeerError` saying what went wrong: the peer cannot be
reached, refused our token request or a message, or answered with a signature that
does not verify.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error

from backend.dci import envelope, outbox, peers, signing
from backend.dci.envelope import EnvelopeError, Status
from backend.dci.models import DciPeer

TIMEOUT = (5, 60)  # connect, read (seconds)
PAGE_SIZE = 100
# A search stops here whatever the peer's total_count says: a peer that pages forever
# must not keep the client forever.
MAX_PAGES = 10_000


class PeerError(Exception):
    """The exchange with the peer failed; `kind` says how (for the exit message)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass(frozen=True)
class Credentials:
    """Our client id and secret at the peer's token endpoint."""

    token_uri: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never the secret, in a traceback or a log
        return f"Credentials(token_uri={self.token_uri!r}, client_id={self.client_id!r})"


def credentials(config: Mapping[str, Any], sender_id: str) -> Credentials:
    """Ours at `sender_id`, from the peer credentials file; PeerError if not there."""
    try:
        found = outbox.credentials(config, sender_id)
    except outbox.DeliveryFailed as exc:
        raise PeerError("no credentials", str(exc)) from exc
    if found is None:
        raise PeerError("no credentials", f"SATUKARTU_DCI_PEER_CREDENTIALS_FILE lists none "
                        f"of ours at {sender_id!r}")
    return Credentials(found["token_uri"], found["client_id"], found["client_secret"])


Hook = Callable[..., Any]


class PeerClient:
    """Signed, authenticated SPDCI requests to one peer, answers verified."""

    def __init__(self, config: Mapping[str, Any], peer: DciPeer, base_url: str,
                 credentials: Credentials, *, hooks: list[Hook] | None = None) -> None:
        """`hooks`: requests' response hooks, called with every answer (tests validate
        each exchange against the standard's document with them)."""
        self.config = config
        self.peer = peer
        self.base = base_url.rstrip("/")
        # With the token endpoint and the grant known, an expired token is fetched
        # again before the next request (a long pull outlives a token).
        self.http = OAuth2Session(credentials.client_id, credentials.client_secret,
                                  token_endpoint_auth_method="client_secret_post",
                                  token_endpoint=credentials.token_uri,
                                  grant_type="client_credentials")
        self.http.hooks["response"] = list(hooks or [])
        self.token_uri = credentials.token_uri
        self._token = False

    def close(self) -> None:
        self.http.close()

    def token(self) -> None:
        """Fetch a bearer token by client credentials; PeerError if refused."""
        try:
            self.http.fetch_token(self.token_uri, grant_type="client_credentials",
                                  timeout=TIMEOUT)
        except (OAuthError, OAuth2Error) as exc:
            raise PeerError("token refused", f"the peer's token endpoint said "
                            f"{getattr(exc, 'error', '') or exc}") from exc
        except requests.RequestException as exc:
            raise PeerError("peer unreachable", f"{self.token_uri}: "
                            f"{exc.__class__.__name__}") from exc
        except ValueError as exc:  # an answer that is not a token
            raise PeerError("token refused", "the token endpoint's answer is not a "
                            "token") from exc
        self._token = True

    def _post(self, path: str, action: str, message: dict[str, Any], total: int
              ) -> requests.Response:
        if not self._token:
            self.token()
        header = envelope.request_header(action, sender_id=outbox.sender_id(self.config),
                                         receiver_id=self.peer.sender_id, total_count=total)
        body = outbox.seal(self.config, header, message)
        try:
            return self.http.post(self.base + path, json=body, timeout=TIMEOUT,
                                  allow_redirects=False)
        except requests.RequestException as exc:
            raise PeerError("peer unreachable", f"{self.base}{path}: "
                            f"{exc.__class__.__name__}") from exc

    def _refused(self, answer: requests.Response, path: str) -> PeerError:
        try:
            body = answer.json()
        except ValueError:
            body = None
        why = ""
        if isinstance(body, dict):
            errors = body.get("errors")
            error = (body.get("message") or {}).get("error") if isinstance(
                body.get("message"), dict) else None
            header = body["header"] if isinstance(body.get("header"), dict) else {}
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                why = f"{errors[0].get('code')}: {errors[0].get('message')}"
            elif isinstance(error, dict):
                why = f"{error.get('code')}: {error.get('message')}"
            elif header.get("status_reason_message"):
                why = str(header["status_reason_message"])
        kind = "token refused" if answer.status_code in (401, 403) else "request refused"
        return PeerError(kind, f"{path}: HTTP {answer.status_code} {why}".strip())

    def verified(self, body: Any, action: str) -> envelope.Envelope:
        """The peer's signed answer, checked: its shape, that it is the peer's, meant
        for us, and signed by one of the peer's registered keys."""
        try:
            received = envelope.parse(body, action,
                                      receiver_id=outbox.sender_id(self.config))
        except EnvelopeError as exc:
            raise PeerError("bad answer", exc.message) from exc
        if received.sender_id != self.peer.sender_id:
            raise PeerError("bad answer", f"the answer is from {received.sender_id!r}, not "
                            f"{self.peer.sender_id!r}")
        try:
            signing.verify(received.signature, received.header, received.message,
                           lambda sender, key: peers.public_key(self.peer, sender, key))
        except signing.SignatureError as exc:
            raise PeerError("bad signature", str(exc)) from exc
        return received

    def search_page(self, criteria: dict[str, Any], page: int, page_size: int
                    ) -> dict[str, Any]:
        """One page of a synchronous search: its `search_response` item, verified."""
        path = "/registry/sync/search"
        message = {"transaction_id": envelope.new_id(), "search_request": [{
            "reference_id": envelope.new_id(), "timestamp": envelope.timestamp(),
            "search_criteria": {**criteria, "pagination": {
                "page_size": page_size, "page_number": page}}}]}
        answer = self._post(path, "search", message, 1)
        if answer.status_code != 200:
            raise self._refused(answer, path)
        received = self.verified(_json(answer), "on-search")
        items = received.message.get("search_response")
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise PeerError("bad answer", "search_response must hold the one item asked")
        item: dict[str, Any] = items[0]
        if item.get("status") != Status.SUCCESS.value:
            raise PeerError("request refused", f"search: {item.get('status_reason_code')} "
                            f"{item.get('status_reason_message', '')}".strip())
        return item

    def search_all(self, criteria: dict[str, Any], page_size: int = PAGE_SIZE
                   ) -> Iterator[dict[str, Any]]:
        """Every record the criteria select, page by page until `total_count` is read."""
        seen = 0
        for page in itertools.count(1):
            if page > MAX_PAGES:
                raise PeerError("bad answer", f"more than {MAX_PAGES} pages")
            item = self.search_page(criteria, page, page_size)
            data = item["data"] if isinstance(item.get("data"), dict) else {}
            records = data.get("reg_records") or []
            if isinstance(records, dict):
                records = [records]
            total = (item.get("pagination") or {}).get("total_count")
            if not isinstance(records, list) or type(total) is not int:
                raise PeerError("bad answer", "a search answer needs reg_records and "
                                "pagination.total_count")
            yield from records
            seen += len(records)
            if seen >= total or not records:
                return

    def subscribe(self, criteria: dict[str, Any]) -> Subscribed:
        """Ask to be notified of changes: the correlation id the peer acknowledged, and
        our transaction and reference ids, which its notifications carry back."""
        path = "/registry/subscribe"
        transaction_id, reference_id = envelope.new_id(), envelope.new_id()
        message = {"transaction_id": transaction_id, "subscribe_request": [{
            "reference_id": reference_id, "timestamp": envelope.timestamp(),
            "subscribe_criteria": criteria}]}
        answer = self._post(path, "subscribe", message, 1)
        body = _json(answer) if answer.content else None
        ack = body.get("message") if isinstance(body, dict) else None
        correlation_id = ack.get("correlation_id") if isinstance(ack, dict) else None
        if answer.status_code != 202 or not isinstance(ack, dict) or \
                ack.get("ack_status") != "ACK" or not isinstance(correlation_id, str) or \
                not 0 < len(correlation_id) <= envelope.MAX_ID:
            raise self._refused(answer, path)
        return Subscribed(correlation_id, transaction_id, reference_id)


@dataclass(frozen=True)
class Subscribed:
    """A subscription the peer acknowledged."""

    correlation_id: str
    transaction_id: str
    reference_id: str


def _json(answer: requests.Response) -> Any:
    try:
        return answer.json()
    except ValueError as exc:
        raise PeerError("bad answer", f"HTTP {answer.status_code}, not JSON") from exc
