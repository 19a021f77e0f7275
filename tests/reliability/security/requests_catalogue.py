"""One well-formed request per declared operation, aimed at objects that exist.

The authorisation matrix sends each of these as every kind of caller: a caller the
operation admits gets 2xx (or the refusal the view adds by design, listed in the
matrix), any other the reason that names what was missing. A builder makes whatever
the request needs fresh (a citizen to record the death of, a card to revoke, from
`request_world.py`) so that one caller's request never changes what the next one finds.

Every operation must have an entry here: an operation added without one fails the
matrix, so the matrix always covers every route.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from backend.testing.identity import basic
from backend.testing.registry import DEFAULT_REGION, make_citizen, make_household
from tests.reliability.security.request_world import (
    PURPOSE,
    TODAY,
    Builder,
    Call,
    Ctx,
    W,
    approval_request,
    bulk_job,
    citizen_id,
    desk_call,
    desk_job,
    duplicate_candidate,
    family_card,
    grievance,
    household_with_child,
    new_card,
    new_staff,
    new_terminal_id,
    nik,
    own_token,
    pdf_of,
    settle_call,
    suspended_card,
    token_call,
    unique,
)

REGISTRY_CSV = b"national_number,full_name,birth_date,sex,region_code\n"


MONTH = {"month": f"{TODAY:%Y-%m}"}
WEEK = {"since": (TODAY - dt.timedelta(days=7)).isoformat(), "until": TODAY.isoformat()}

CATALOGUE: dict[str, Builder] = {
    "api_meta.health": lambda c, _: Call(f"{W}/health"),
    "api_meta.openapi": lambda c, _: Call(f"{W}/openapi.json"),
    "api_operations.ready": lambda c, _: Call(f"{W}/ready"),
    "api_operations.prometheus_metrics": lambda c, _: Call(f"{W}/metrics"),
    # registry
    "api_registry.create_citizen": lambda c, _: Call(f"{W}/citizens", json={
        "national_number": nik(), "full_name": "Agus Salim", "birth_date": "1985-03-09",
        "sex": "M", "region_code": DEFAULT_REGION}),
    "api_registry.search_citizens": lambda c, _: Call(f"{W}/citizens",
                                                      query={**PURPOSE, "name": "Ani"}),
    "api_registry.read_citizen": lambda c, _: Call(f"{W}/citizens/{c.world.ani.id}",
                                                   query=PURPOSE),
    "api_registry.update_citizen": lambda c, _: Call(f"{W}/citizens/{citizen_id(c)}",
                                                     json={"address": "Jl. Baru 1"}),
    "api_registry.delete_citizen": lambda c, _: Call(f"{W}/citizens/{citizen_id(c)}"),
    "api_registry.record_death": lambda c, _: Call(
        f"{W}/citizens/{citizen_id(c)}/death",
        json={"died_on": (TODAY - dt.timedelta(days=1)).isoformat()}),
    "api_registry.citizen_history": lambda c, _: Call(
        f"{W}/citizens/{c.world.ani.id}/history", query=PURPOSE),
    "api_registry.add_enrolment": lambda c, _: Call(
        f"{W}/citizens/{citizen_id(c)}/enrolments", json={
            "school_code": "SD01", "school_name": "SD Negeri 1", "level": "primary",
            "grade": 3, "academic_year": f"{TODAY.year}/{TODAY.year + 1}"}),
    "api_registry.update_enrolment": lambda c, _: Call(
        f"{W}/citizens/{c.world.ani.id}/enrolments/{c.world.enrolment_id}",
        json={"grade": 4}),
    "api_registry.set_health": lambda c, _: Call(f"{W}/citizens/{citizen_id(c)}/health", json={
        "facility_code": "PKM-01", "facility_name": "Puskesmas Satu", "jkn_class": 3}),
    "api_duplicates.list_duplicates": lambda c, _: Call(f"{W}/duplicates", query=PURPOSE),
    "api_duplicates.decide_duplicate": lambda c, _: Call(
        f"{W}/duplicates/{duplicate_candidate(c)}/decision",
        json={"decision": "different_people"}),
    "api_registry.create_household": lambda c, _: (lambda head: Call(
        f"{W}/households", json={"family_card_number": family_card(),
                                  "head_citizen_id": head,
                                  "members": [{"citizen_id": head, "relationship": "head"}]}))(
        citizen_id(c)),
    "api_registry.read_household": lambda c, _: Call(
        f"{W}/households/{c.world.ani.household.id}", query=PURPOSE),
    "api_registry.update_household": lambda c, _: Call(
        f"{W}/households/{make_household().id}", json={"welfare_decile": 2}),
    "api_registry.add_member": lambda c, _: Call(
        f"{W}/households/{make_household().id}/members",
        json={"citizen_id": citizen_id(c), "relationship": "child"}),
    "api_registry.remove_member": lambda c, _: Call(household_with_child(c)),
    # identity
    "api_identity.staff_login": lambda c, _: Call(f"{W}/auth/staff/login", json={
        "username": c.world.login[0], "password": c.world.login[1]}),
    "api_identity.staff_logout": lambda c, caller: Call(f"{W}/auth/staff/logout",
                                                        token=own_token(c, caller)),
    "api_identity.whoami": lambda c, _: Call(f"{W}/auth/whoami"),
    "api_identity.oauth_token": lambda c, _: Call(f"{W}/oauth/token", data={
        "grant_type": "client_credentials"}, headers=basic(
            c.world.terminals["kiosk"].client_id, c.world.terminals["kiosk"].client_secret)),
    "api_identity.oidc_login": lambda c, _: Call(f"{W}/auth/oidc/login"),
    "api_identity.oidc_callback": lambda c, _: Call(f"{W}/auth/oidc/callback"),
    "api_identity.list_staff": lambda c, _: Call(f"{W}/staff"),
    "api_identity.create_staff": lambda c, _: Call(f"{W}/staff", json={
        "username": f"petugas{next(unique)}", "role": "clerk"}),
    "api_identity.get_staff": lambda c, _: Call(f"{W}/staff/{c.world.spare_staff}"),
    "api_identity.disable_staff": lambda c, _: Call(
        f"{W}/staff/{new_staff(c).username}/disable"),
    "api_identity.enable_staff": lambda c, _: Call(f"{W}/staff/{new_staff(c).username}/enable"),
    "api_identity.unlock_staff": lambda c, _: Call(f"{W}/staff/{new_staff(c).username}/unlock"),
    "api_identity.list_terminals": lambda c, _: Call(f"{W}/terminals"),
    "api_identity.register_terminal": lambda c, _: Call(f"{W}/terminals", json={
        "kind": "kiosk", "name": f"kiosk {next(unique)}"}),
    "api_identity.get_terminal": lambda c, _: Call(f"{W}/terminals/{c.world.spare_terminal}"),
    "api_identity.disable_terminal": lambda c, _: Call(
        f"{W}/terminals/{new_terminal_id(c)}/disable"),
    "api_identity.enable_terminal": lambda c, _: Call(
        f"{W}/terminals/{new_terminal_id(c)}/enable"),
    "api_identity.rotate_terminal_secret": lambda c, _: Call(
        f"{W}/terminals/{new_terminal_id(c)}/secret"),
    # cards
    "api_cards.tap_lock": lambda c, _: Call(f"{W}/auth/tap-lock", json={"locked": False}),
    "api_cards.challenge": lambda c, _: Call(f"{W}/auth/challenge"),
    "api_cards.token": token_call,
    "api_cards.session_info": lambda c, _: Call(f"{W}/auth/session"),
    "api_cards.logout": lambda c, caller: Call(f"{W}/auth/logout", token=own_token(c, caller)),
    "api_cards.list_cards": lambda c, _: Call(f"{W}/cards", query={"citizen": c.world.ani.id}),
    "api_cards.get_card": lambda c, _: Call(f"{W}/cards/{c.world.spare_card}"),
    "api_cards.suspend": lambda c, _: Call(f"{W}/cards/{new_card(c).serial}/suspend", json={}),
    "api_cards.reinstate": lambda c, _: Call(f"{W}/cards/{suspended_card(c)}/reinstate",
                                             json={}),
    "api_cards.revoke": lambda c, _: Call(f"{W}/cards/{new_card(c).serial}/revoke",
                                          json={"reason": "keyCompromise"}),
    "api_cards.pin_unblock": lambda c, _: Call(f"{W}/cards/{new_card(c).serial}/pin-unblock"),
    "api_cards.current_crl": lambda c, _: Call(f"{W}/crl"),
    "api_card_face.card_face": lambda c, _: Call(f"{W}/cards/{c.world.spare_card}/face.pdf"),
    # issuance at an enrolment desk
    "api_issuance.start_job": lambda c, _: Call(f"{W}/issuance-jobs", json={
        "citizen": make_citizen(full_name="Komang Ayu").national_number,
        "desk": c.world.terminals["desk"].terminal_id}),
    "api_issuance.list_jobs": lambda c, _: Call(f"{W}/issuance-jobs"),
    "api_issuance.get_job": lambda c, caller: Call(f"{W}/issuance-jobs/{desk_job(c, caller).id}"),
    "api_issuance.cancel_job": lambda c, caller: Call(
        f"{W}/issuance-jobs/{desk_job(c, caller).id}/cancel", json={}),
    "api_issuance.claim_job": lambda c, caller: desk_call(c, caller, "claim"),
    "api_issuance.certify_job": lambda c, caller: desk_call(c, caller, "certify"),
    "api_issuance.activate_job": lambda c, caller: desk_call(c, caller, "activate"),
    "api_issuance.fail_job": lambda c, caller: desk_call(c, caller, "fail"),
    # audit
    "api_audit.my_access_log": lambda c, _: Call(f"{W}/audit/me/access-log"),
    "api_audit.my_access_log_pdf": lambda c, _: Call(f"{W}/audit/me/access-log.pdf"),
    "api_audit.list_records": lambda c, _: Call(f"{W}/audit/records"),
    "api_audit.verify_now": lambda c, _: Call(f"{W}/audit/verify"),
    "api_audit.list_checkpoints": lambda c, _: Call(f"{W}/audit/checkpoints"),
    "api_audit.checkpoint_now": lambda c, _: Call(f"{W}/audit/checkpoints"),
    "api_audit.public_key": lambda c, _: Call(f"{W}/audit/public-key"),
    "api_audit.public_keys": lambda c, _: Call(f"{W}/audit/public-keys"),
    "api_audit.export_range": lambda c, _: Call(f"{W}/audit/export", query={
        "from": TODAY.isoformat(), "to": TODAY.isoformat()}),
    # ledger
    "api_ledger.request_allocation": lambda c, _: Call(f"{W}/ledger/allocations",
                                                       json={"programme": "food"}),
    "api_ledger.list_allocations": lambda c, _: Call(f"{W}/ledger/allocations"),
    "api_ledger.show_takings": lambda c, caller: Call(
        f"{W}/ledger/settlements/"
        f"{c.caller_terminal(caller) or c.world.terminals['agent'].terminal_id}/{TODAY}"),
    "api_ledger.settle_day": settle_call,
    "api_ledger.card_many_shops": lambda c, _: Call(f"{W}/ledger/patterns/card-many-shops",
                                                    query=WEEK),
    "api_ledger.shop_night_cards": lambda c, _: Call(f"{W}/ledger/patterns/shop-night-cards",
                                                     query=WEEK),
    # offline redemptions (an agent's daemon): an empty batch is a well-formed sync
    "api_offline.offline_bundle": lambda c, _: Call(f"{W}/offline/bundle"),
    "api_offline.sync_redemptions": lambda c, _: Call(f"{W}/offline/redemptions",
                                                      json={"redemptions": []}),
    # irregularity signals
    "api_signals.list_signals": lambda c, _: Call(f"{W}/ledger/signals", query=WEEK),
    "api_signals.signals_csv": lambda c, _: Call(f"{W}/ledger/signals.csv", query=WEEK),
    "api_signals.signals_pdf": lambda c, _: Call(f"{W}/ledger/signals.pdf", query=WEEK),
    # services (the action route is expanded per action by the matrix)
    "api_services.list_services": lambda c, _: Call(f"{W}/services"),
    # programmes (enabling needs no approval: an admin's change is direct)
    "api_programmes.list_programmes": lambda c, _: Call(f"{W}/programmes"),
    "api_programmes.get_programme": lambda c, _: Call(f"{W}/programmes/food"),
    "api_programmes.change_programme": lambda c, _: Call(f"{W}/programmes/food",
                                                         json={"enabled": True}),
    # documents
    "api_documents.verify_document": lambda c, _: Call(
        f"{W}/documents/{c.world.ani.document}/verify"),
    "api_documents.verify_file": lambda c, _: Call(
        f"{W}/documents/{c.world.ani.document}/verify",
        data=pdf_of(c, c.world.ani.document), content_type="application/pdf"),
    "api_documents.signing_key": lambda c, _: Call(f"{W}/documents/signing-key"),
    "api_documents.my_documents": lambda c, _: Call(f"{W}/documents"),
    "api_documents.document_pdf": lambda c, _: Call(f"{W}/documents/{c.world.ani.document}/pdf"),
    "api_documents.receipt_pdf": lambda c, _: Call(f"{W}/receipts/{c.world.ani.receipt}"),
    "api_documents.monthly_report_pdf": lambda c, _: Call(f"{W}/reports/monthly", query=MONTH),
    "api_documents.monthly_report_figures": lambda c, _: Call(f"{W}/reports/monthly/figures",
                                                              query=MONTH),
    # two-person approval and bulk jobs
    "api_approvals.create_request": lambda c, _: Call(f"{W}/approvals", json={
        "kind": "cards.revoke", "payload": {"serials": [new_card(c).serial],
                                            "reason": "keyCompromise"}}),
    "api_approvals.request_registry_import": lambda c, _: Call(
        f"{W}/approvals/registry-import", data=REGISTRY_CSV, content_type="text/csv"),
    "api_approvals.list_requests": lambda c, _: Call(f"{W}/approvals"),
    "api_approvals.show_request": lambda c, _: Call(f"{W}/approvals/{approval_request(c)}"),
    "api_approvals.approve": lambda c, _: Call(f"{W}/approvals/{approval_request(c)}/approve",
                                               json={}),
    "api_approvals.reject": lambda c, _: Call(f"{W}/approvals/{approval_request(c)}/reject",
                                              json={"comment": "not these cards"}),
    "api_approvals.cancel": lambda c, _: Call(
        f"{W}/approvals/{approval_request(c, c.world.staff['admin'].username)}/cancel",
        json={}),
    "api_approvals.assign": lambda c, _: Call(f"{W}/approvals/{approval_request(c)}/assign",
                                              json={"to": new_staff(c, "admin").username}),
    "api_approvals.carry_out": lambda c, _: Call(
        f"{W}/approvals/{approval_request(c, approved=True)}/carry-out"),
    "api_grievances.file_appeal": lambda c, _: Call(f"{W}/grievances", json={
        "subject": "receipt", "entry_id": c.world.ani.receipt}),
    "api_grievances.my_appeals": lambda c, _: Call(f"{W}/grievances/mine"),
    "api_grievances.my_refusals": lambda c, _: Call(f"{W}/grievances/refusals"),
    "api_grievances.queue": lambda c, _: Call(f"{W}/grievances"),
    "api_grievances.show": lambda c, _: Call(f"{W}/grievances/{grievance(c)}"),
    "api_grievances.assign": lambda c, _: Call(f"{W}/grievances/{grievance(c)}/assign",
                                               json={"to": c.world.staff["clerk"].username}),
    "api_grievances.resolve": lambda c, caller: Call(
        f"{W}/grievances/{grievance(c, caller)}/resolve",
        json={"outcome": "not_upheld", "reason": "The programme's rule applies."}),
    "api_bulk.bulk_revoke": lambda c, _: Call(f"{W}/cards/bulk-revoke", json={
        "serials": [new_card(c).serial], "reason": "keyCompromise"}),
    "api_bulk.list_jobs": lambda c, _: Call(f"{W}/jobs"),
    "api_bulk.show_job": lambda c, _: Call(f"{W}/jobs/{bulk_job(c)}"),
    "api_bulk.cancel_job": lambda c, _: Call(f"{W}/jobs/{bulk_job(c, 'queued')}/cancel"),
    "api_bulk.resume_job": lambda c, _: Call(f"{W}/jobs/{bulk_job(c, 'cancelled')}/resume"),
    "api_bulk.job_failures": lambda c, _: Call(f"{W}/jobs/{bulk_job(c)}/failures.csv"),
}

# The body of each service action the matrix sends (absent: no body).
ACTION_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("civil_documents", "domicile_letter"): {"purpose": "pendaftaran sekolah"},
    ("education", "withdraw"): {"amount": 1_000},
    ("elderly", "withdraw"): {"amount": 1_000},
    ("family_hope", "withdraw"): {"amount": 1_000},
    ("food", "redeem"): {"items": [{"name": "Telur 1 kg", "category": "eggs", "quantity": 1,
                                    "unit_price": 28_000}], "amount": 28_000},
    ("health", "register_visit"): {"kind": "general", "facility_code": "PKM-KBY-01"},
    ("transport", "fare"): {"amount": 3_500, "route": "Koridor 1"},
}


def action_call(key: str, name: str) -> Builder:
    def build(_ctx: Ctx, _caller: str) -> Call:
        return Call(f"{W}/services/{key}/{name}", json=ACTION_BODIES.get((key, name)),
                    headers={"Idempotency-Key": f"matrix-{uuid.uuid4()}"})
    return build
