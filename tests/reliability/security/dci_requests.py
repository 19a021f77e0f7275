"""One well-formed request per SPDCI peers' route (backend/dci).

Not API operations (the standard, not our document, describes them), so not in the
authorisation matrix's catalogue (requests_catalogue.py): `test_dci_routes.py` sends
each of these as every hub caller, none of whom is a peer. A well-formed envelope each,
unsigned: who may call is judged first.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.reliability.security.request_world import Call


def _envelope(action: str, message: dict[str, Any], callback: bool = False) -> dict[str, Any]:
    header: dict[str, Any] = {"version": "1.0.0", "message_id": uuid.uuid4().hex,
                              "message_ts": "2026-12-07T10:00:00Z", "action": action,
                              "sender_id": "peer-registry", "receiver_id": "satukartu",
                              "total_count": 1}
    if callback:
        header["status"] = "succ"
    return {"signature": "", "header": header, "message": message}


_TXN = {"transaction_id": "t-1"}
_SEARCH = {**_TXN, "search_request": [{"reference_id": "r-1", "timestamp": "2026-12-07T10:00:00Z",
                                       "search_criteria": {"query_type": "idtype-value", "query": {
                                           "type": "NationalID", "value": "3171011705900001"}}}]}
_STATUS = {**_TXN, "txnstatus_request": {"reference_id": "r-1", "txn_type": "search",
                                         "attribute_type": "transaction_id",
                                         "attribute_value": "t-0"}}
DCI_CATALOGUE: dict[str, Call] = {
    "dci.search": Call("/dci/registry/search", json=_envelope("search", _SEARCH)),
    "dci.sync_search": Call("/dci/registry/sync/search", json=_envelope("search", _SEARCH)),
    "dci.subscribe": Call("/dci/registry/subscribe", json=_envelope("subscribe", {
        **_TXN, "subscribe_request": [{"reference_id": "r-1",
                                       "timestamp": "2026-12-07T10:00:00Z",
                                       "subscribe_criteria": {
                                           "reg_event_type": "REGISTER",
                                           "filter": {"type": "NationalID", "value": "1"},
                                           "notify_record_type": "Person"}}]})),
    "dci.unsubscribe": Call("/dci/registry/unsubscribe", json=_envelope("unsubscribe", {
        **_TXN, "timestamp": "2026-12-07T10:00:00Z", "subscription_codes": ["c-1"]})),
    "dci.txn_status": Call("/dci/registry/txn/status", json=_envelope("txn-status", _STATUS)),
    "dci.sync_txn_status": Call("/dci/registry/sync/txn/status",
                                json=_envelope("txn-status", _STATUS)),
    "dci.on_search": Call("/dci/registry/on-search", json=_envelope("on-search", {
        **_TXN, "correlation_id": "c-1", "search_response": []}, callback=True)),
    "dci.on_subscribe": Call("/dci/registry/on-subscribe", json=_envelope("on-subscribe", {
        **_TXN, "correlation_id": "c-1", "subscribe_response": []}, callback=True)),
    "dci.on_unsubscribe": Call("/dci/registry/on-unsubscribe", json=_envelope(
        "on-unsubscribe", {**_TXN, "correlation_id": "c-1",
                           "timestamp": "2026-12-07T10:00:00Z", "status": "succ"},
        callback=True)),
    "dci.txn_on_status": Call("/dci/registry/txn/on-status", json=_envelope("txn-on-status", {
        **_TXN, "correlation_id": "c-1", "txnstatus_response": {"txn_type": "search",
                                                                "txn_status": {}}},
        callback=True)),
    "dci.notify": Call("/dci/registry/notify", json=_envelope("notify", {
        **_TXN, "notify_event": []}, callback=True)),
}
# Routes a hub caller may use: the token endpoint (its own credentials decide) and the
# published keys.
DCI_OPEN = {"dci.token": "a peer's client credentials decide, not the caller's token",
            "dci.jwks": "our public keys, for anyone to verify our signatures"}
