"""The token's shape and size: the first check, before anything touches the database.

The body is read by the view itself rather than by the API's generic validation, so
that every defect answers with a card-authentication reason (token_malformed,
token_oversized), as the daemon and the OpenAPI document expect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from backend.cards.chain import CardCertificate, CertificateMalformed, TrustStore
from backend.errors import ApiError
from backend.reasons import Reason
from card_reader import wire


@dataclass(frozen=True)
class ParsedToken:
    token: wire.CardToken
    certificate: CardCertificate  # the cached verdict on the certificate it carries


def parse_token(raw: bytes, trust: TrustStore) -> ParsedToken:
    """A well-formed token with a readable certificate, or a 400/413 refusal."""
    if len(raw) > wire.MAX_TOKEN_JSON_BYTES:
        raise ApiError(Reason.TOKEN_OVERSIZED, "the token is larger than "
                       f"{wire.MAX_TOKEN_JSON_BYTES} bytes", 413)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ApiError(Reason.TOKEN_MALFORMED, "the token is not JSON", 400) from exc
    try:
        token = wire.CardToken.from_dict(data)
    except wire.WireError as exc:
        status = 413 if exc.reason == Reason.TOKEN_OVERSIZED else 400
        raise ApiError(Reason(exc.reason), exc.detail, status) from exc
    try:
        cert = trust.inspect(token.certificate)
    except CertificateMalformed as exc:
        raise ApiError(Reason.TOKEN_MALFORMED, str(exc), 400) from exc
    return ParsedToken(token, cert)
