"""The clerk's queue of possible duplicates: list the open pairs, decide one.

Clerks and admins only. Listing shows two people's records side by side, so it names
its purpose and is written to both people's access logs, like any read of the registry.
"""

from __future__ import annotations

from backend.api.routing import Api
from backend.auth.principal import Requirement, current_principal
from backend.db import session
from backend.reasons import Reason
from backend.registry import service
from backend.registry.dedup import review
from backend.registry.dedup.models import DuplicateCandidate
from backend.registry.dedup.schemas import (
    SHOWN,
    CandidateOut,
    CandidatePage,
    DecisionIn,
    PersonSide,
    QueueQuery,
)
from backend.registry.models import Citizen

api = Api("duplicates", tag="registry")

CLERK = Requirement(roles=("admin", "clerk"))


def candidate_out(row: DuplicateCandidate, new: Citizen | None = None,
                  existing: Citizen | None = None) -> CandidateOut:
    return CandidateOut(
        id=row.id, score=row.score, name_similarity=row.name_similarity,
        matched=row.matched.split(","), source=row.source, status=row.status,
        created_at=row.created_at, decided_by=row.decided_by, decided_at=row.decided_at,
        note=row.note,
        new=PersonSide.model_validate(new) if new is not None else None,
        existing=PersonSide.model_validate(existing) if existing is not None else None)


@api.route("/duplicates", "GET", summary="Open pairs of records that may be one person",
           auth=CLERK, query=QueueQuery, response=CandidatePage,
           reasons=(Reason.VALIDATION_FAILED,))
def list_duplicates(query: QueueQuery) -> CandidatePage:
    sess = session()
    found, more = review.open_candidates(sess, query.page, query.per_page)
    service.log_reads(sess, {p.id: p for _row, new, old in found for p in (new, old)
                             }.values(), query.purpose, SHOWN)
    return CandidatePage(items=[candidate_out(row, new, old) for row, new, old in found],
                         page=query.page, per_page=query.per_page, has_more=more)


@api.route("/duplicates/<int:candidate_id>/decision", "POST",
           summary="Decide whether a pair is one person", auth=CLERK, body=DecisionIn,
           response=CandidateOut,
           reasons=(Reason.MALFORMED_JSON, Reason.VALIDATION_FAILED, Reason.UNKNOWN_FIELD,
                    Reason.NOT_FOUND, Reason.DUPLICATE_ALREADY_DECIDED))
def decide_duplicate(candidate_id: int, body: DecisionIn) -> CandidateOut:
    principal = current_principal()
    by = principal.subject if principal is not None else "unknown"
    row = review.decide(session(), candidate_id, body.decision, by, body.note)
    return candidate_out(row)
