"""Every reason the hub gives for a refusal, in one enumeration.

The API's `error.reason`, the audit log's outcome, the logs and the tests all use these
values; the OpenAPI document lists them. Add a reason here, in its section, never as
a bare string elsewhere.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # request shape (any endpoint)
    MALFORMED_JSON = "malformed_json"
    VALIDATION_FAILED = "validation_failed"
    UNKNOWN_FIELD = "unknown_field"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    CONFLICT = "conflict"
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"

    # who is asking (staff, terminals, card sessions)
    AUTHENTICATION_REQUIRED = "authentication_required"
    TOKEN_INVALID = "token_invalid"
    TOKEN_EXPIRED = "token_expired"
    FORBIDDEN = "forbidden"
    ASSURANCE_TOO_LOW = "assurance_too_low"
    TERMINAL_KIND_NOT_ALLOWED = "terminal_kind_not_allowed"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    INVALID_CREDENTIALS = "invalid_credentials"
    ACCOUNT_LOCKED = "account_locked"
    RATE_LIMITED = "rate_limited"
    INVALID_CLIENT = "invalid_client"
    INVALID_SCOPE = "invalid_scope"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    SESSION_ENDED = "session_ended"

    # identity: staff accounts, terminals, sign-in
    ACCOUNT_DISABLED = "account_disabled"
    TERMINAL_DISABLED = "terminal_disabled"
    INVALID_REQUEST = "invalid_request"
    INSECURE_TRANSPORT = "insecure_transport"
    DUPLICATE_USERNAME = "duplicate_username"
    DUPLICATE_EMAIL = "duplicate_email"
    PASSWORD_TOO_WEAK = "password_too_weak"
    LAST_ADMIN = "last_admin"
    SSO_DISABLED = "sso_disabled"
    SSO_FAILED = "sso_failed"
    SSO_NO_ACCOUNT = "sso_no_account"
    TOTP_REQUIRED = "totp_required"  # the account has TOTP; its code was not sent
    TOTP_INVALID = "totp_invalid"  # wrong one-time code, or one accepted already

    # registry
    INVALID_NATIONAL_NUMBER = "invalid_national_number"
    DUPLICATE_NATIONAL_NUMBER = "duplicate_national_number"
    DUPLICATE_FAMILY_CARD = "duplicate_family_card"
    HEAD_NOT_MEMBER = "head_not_member"
    CITIZEN_DECEASED = "citizen_deceased"
    DELETE_NOT_ALLOWED = "delete_not_allowed"
    IMPORT_INVALID = "import_invalid"
    ALREADY_IN_HOUSEHOLD = "already_in_household"
    INVALID_FAMILY_CARD_NUMBER = "invalid_family_card_number"
    DUPLICATE_ALREADY_DECIDED = "duplicate_already_decided"  # a clerk decided that pair

    # card authentication (checked in this order)
    TOKEN_MALFORMED = "token_malformed"
    TOKEN_OVERSIZED = "token_oversized"
    NONCE_UNKNOWN = "nonce_unknown"
    NONCE_EXPIRED = "nonce_expired"
    NONCE_REUSED = "nonce_reused"
    NONCE_OTHER_TERMINAL = "nonce_other_terminal"
    CERTIFICATE_UNTRUSTED = "certificate_untrusted"
    CERTIFICATE_EXPIRED = "certificate_expired"
    CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"
    CERTIFICATE_WRONG_USAGE = "certificate_wrong_usage"
    CARD_UNKNOWN = "card_unknown"
    CARD_SUSPENDED = "card_suspended"
    CARD_REVOKED = "card_revoked"
    CARD_SUPERSEDED = "card_superseded"
    TAP_LOCKED = "tap_locked"  # the holder locked the card for taps: the PIN key only
    SIGNATURE_INVALID = "signature_invalid"
    # card lifecycle
    CARD_STATE_INVALID = "card_state_invalid"
    CITIZEN_HAS_NO_CARD = "citizen_has_no_card"
    PUK_INCORRECT = "puk_incorrect"
    PUK_BLOCKED = "puk_blocked"
    # card issuance at an enrolment desk (backend/cards/desk.py)
    NOT_A_DESK = "not_a_desk"
    ISSUANCE_JOB_OPEN = "issuance_job_open"
    ISSUANCE_JOB_STATE_INVALID = "issuance_job_state_invalid"
    ISSUANCE_JOB_OTHER_DESK = "issuance_job_other_desk"
    CARD_UUID_MISMATCH = "card_uuid_mismatch"
    PUBLIC_KEY_INVALID = "public_key_invalid"
    KEY_ALREADY_CERTIFIED = "key_already_certified"

    # services and ledger
    UNKNOWN_SERVICE = "unknown_service"
    UNKNOWN_ACTION = "unknown_action"
    SERVICE_DISABLED = "service_disabled"
    NOT_ELIGIBLE = "not_eligible"
    DUPLICATE_RECORD = "duplicate_record"  # a clerk found the record to be another's
    AMOUNT_INVALID = "amount_invalid"
    AMOUNT_ABOVE_CAP = "amount_above_cap"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    CATEGORY_NOT_ALLOWED = "category_not_allowed"
    DOCUMENT_NOT_FOUND = "document_not_found"
    CREDIT_EXPIRED = "credit_expired"
    PURSE_NOT_CASHABLE = "purse_not_cashable"
    UNKNOWN_PURSE = "unknown_purse"
    DAILY_CAP_EXCEEDED = "daily_cap_exceeded"  # the purse's daily cap per holder
    MONTHLY_CAP_EXCEEDED = "monthly_cap_exceeded"  # the purse's monthly cap per holder
    AGENT_CATEGORY_NOT_ALLOWED = "agent_category_not_allowed"  # this shop may not redeem it
    PERIOD_INVALID = "period_invalid"
    ALREADY_SETTLED = "already_settled"
    NOT_COVERED = "not_covered"

    # offline redemptions synced by an agent's daemon (backend/offline), judged in order
    REDEMPTION_MALFORMED = "redemption_malformed"  # the whole batch: nothing is judged
    TERMINAL_MISMATCH = "terminal_mismatch"  # signed for another terminal than the caller
    OFFLINE_COUNTER_REUSED = "offline_counter_reused"  # the counter went with another key
    OFFLINE_NOT_ALLOWED = "offline_not_allowed"  # purse or category not redeemed offline
    OFFLINE_CRL_STALE = "offline_crl_stale"  # redeemed outside its CRL's window (+ grace)
    OFFLINE_CARD_CAP_EXCEEDED = "offline_card_cap_exceeded"  # the card's offline day cap
    OFFLINE_AGENT_CAP_EXCEEDED = "offline_agent_cap_exceeded"  # the terminal's day cap

    # documents (verification of what the city issued)
    DOCUMENT_ALTERED = "document_altered"
    DOCUMENT_FILE_MISMATCH = "document_file_mismatch"
    DOCUMENT_KEY_UNKNOWN = "document_key_unknown"

    # audit
    AUDIT_RANGE_INVALID = "audit_range_invalid"

    # two-person approval and bulk jobs (backend/approvals, backend/bulk)
    OWN_REQUEST = "own_request"  # the maker may not decide their own request
    NOT_ASSIGNEE = "not_assignee"  # handed to another approver
    NOT_MAKER = "not_maker"  # only the maker withdraws a request
    ASSIGNEE_INVALID = "assignee_invalid"  # not an enabled admin, or the maker
    UNKNOWN_APPROVAL_KIND = "unknown_approval_kind"
    APPROVAL_NOT_PENDING = "approval_not_pending"
    APPROVAL_NOT_APPROVED = "approval_not_approved"
    APPROVAL_EXPIRED = "approval_expired"
    APPROVAL_MISMATCH = "approval_mismatch"  # carrying out differs from what was approved
    APPROVAL_REQUIRED = "approval_required"
    JOB_STATE_INVALID = "job_state_invalid"

    # appeals (backend/grievances)
    GRIEVANCE_SUBJECT_INVALID = "grievance_subject_invalid"  # no such refusal or own receipt
    GRIEVANCE_RESOLVED = "grievance_resolved"  # resolved already: it changes no more
    GRIEVANCE_NOT_ASSIGNEE = "grievance_not_assignee"  # only its assignee resolves it
    GRIEVANCE_ASSIGNEE_INVALID = "grievance_assignee_invalid"  # not an enabled clerk or admin

    # operations (backend/observability): readiness and metrics
    NOT_READY = "not_ready"  # a dependency the hub needs is down; details name which
    NETWORK_NOT_ALLOWED = "network_not_allowed"  # metrics: not an admin, not from a listed net
