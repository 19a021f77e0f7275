"""What a test does at the peer hub, in a process of its own with the peer's settings
(its database, its instance folder, its queue): `python -m tests.backend.dci.peer_side
COMMAND JSON`, the answer as JSON on stdout. The peer is another hub, not this test's."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

from backend.wsgi import app


def jwks(_args: dict[str, Any]) -> Any:
    from backend.dci import outbox

    return outbox.published(app.config)


def register(args: dict[str, Any]) -> Any:
    from backend.db import database
    from backend.dci import peers

    with database().transaction() as tx:
        row, secret = peers.add(tx, sender_id=args["sender_id"], name="Pulling registry",
                                callback_uri=args["callback_uri"],
                                scope="dci.person dci.household",
                                jwks_document=json.dumps(args["jwks"]))
        return {"client_id": row.client_id, "client_secret": secret}


NAMES = [("Agus Wibowo", "Dewi Lestari", "Rizky Pratama"),
         ("Joko Susilo", "Sri Wahyuni", "Putri Ayu"),
         ("Hendra Gunawan", "Ratna Sari", "Bayu Saputra"),
         ("Eko Prasetyo", "Nur Aini", "Fajar Nugroho")]


def seed(args: dict[str, Any]) -> Any:
    """Family cards of three people each (head, spouse, child) in `region`."""
    from backend.testing.registry import make_citizen, make_household

    made = []
    for i, (head_name, spouse_name, child_name) in enumerate(NAMES[:args["households"]]):
        region = args["region"]
        head = make_citizen(sex="M", full_name=head_name, region_code=region,
                            birth_date=dt.date(1970 + i, 2, 3 + i))
        spouse = make_citizen(sex="F", full_name=spouse_name, region_code=region,
                              birth_date=dt.date(1972 + i, 6, 7 + i))
        child = make_citizen(sex="M", full_name=child_name, region_code=region,
                             birth_date=dt.date(2001 + i, 9, 10 + i))
        family = make_household(head, [(spouse, "spouse"), (child, "child")],
                                welfare_decile=2 + i)
        made.append({"family_card_number": family.family_card_number,
                     "members": [p.national_number for p in (head, spouse, child)]})
    return made


def move(args: dict[str, Any]) -> Any:
    """A person's new address, through the registry's service (as a clerk's change)."""
    from sqlalchemy import select

    from backend.db import database
    from backend.registry import service
    from backend.registry.history import Actor
    from backend.registry.models import Citizen

    with database().transaction() as tx:
        person = tx.scalar(select(Citizen).where(
            Citizen.national_number == args["national_number"]))
        service.update_citizen(tx, person, {"address": args["address"]},
                               Actor("staff", "clerk"))
    return "moved"


COMMANDS = {"jwks": jwks, "register": register, "seed": seed, "move": move}

if __name__ == "__main__":
    with app.app_context():
        print(json.dumps(COMMANDS[sys.argv[1]](json.loads(sys.argv[2]))))
