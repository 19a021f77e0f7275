"""Operations endpoints: readiness for load balancers, metrics for Prometheus."""

from __future__ import annotations

import ipaddress

from flask import Response, current_app, jsonify, request

from backend.api.routing import Api, OutModel
from backend.auth.principal import PUBLIC, Principal, current_principal
from backend.db import database
from backend.errors import ApiError
from backend.observability import metrics, readiness
from backend.reasons import Reason

api = Api("operations", tag="operations")


class Ready(OutModel):
    status: str
    checks: dict[str, str]


@api.route("/ready", summary="Readiness: database, broker, CA certificate and key, "
           "signing keys", auth=PUBLIC, response=Ready, reasons=(Reason.NOT_READY,))
def ready() -> Ready | Response:
    """200 when every check passes; 503 `not_ready` naming the failed checks in
    `details.failed`. Each check's status is `ok`, `failed`, `timeout` or
    `not_checked` (a CA key on an HSM); nothing else about the dependency is said.
    A 503 is answered, not raised: a balancer polling a sick hub every few seconds
    must not fill the audit log with refusals."""
    statuses = readiness.run(readiness.checks(current_app.config, database().engine))
    failed = readiness.failed(statuses)
    if not failed:
        return Ready(status="ready", checks=statuses)
    error = ApiError(Reason.NOT_READY, "not ready: " + ", ".join(failed), 503,
                     {"failed": failed, "checks": statuses})
    answer = jsonify(error.to_dict())
    answer.status_code = 503
    answer.headers["Retry-After"] = "5"
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _from_allowed_network(address: str | None) -> bool:
    """The client's address as the hub sees it: ProxyFix has already applied
    X-Forwarded-For when SATUKARTU_PROXY_HOPS trusts a proxy, and only then."""
    try:
        client = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if client.version == 6 and client.ipv4_mapped is not None:
        client = client.ipv4_mapped
    return any(client in ipaddress.ip_network(net)
               for net in current_app.config["METRICS_NETWORKS"])


def _is_admin(principal: Principal | None) -> bool:
    return principal is not None and principal.kind == "staff" and principal.role == "admin"


@api.route("/metrics", summary="Prometheus metrics (an admin's token, or a listed network)",
           auth=PUBLIC, content_type="text/plain", reasons=(Reason.NETWORK_NOT_ALLOWED,))
def prometheus_metrics() -> Response:
    """Answered to an admin's bearer token from anywhere, or to any caller from
    SATUKARTU_METRICS_NETWORKS (default: this machine only); anyone else is refused
    `network_not_allowed`. The counts say how the city's services are used."""
    if not (_is_admin(current_principal()) or _from_allowed_network(request.remote_addr)):
        raise ApiError(Reason.NETWORK_NOT_ALLOWED, "metrics are for admins or the "
                       "monitoring network", 403)
    body = metrics.exposition(database().engine)
    answer = Response(body, content_type=metrics.CONTENT_TYPE)
    answer.headers["Cache-Control"] = "no-store"
    return answer
