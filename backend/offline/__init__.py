"""Redemptions made at an agent while its link to the hub was down, and what the hub
gives the agent's daemon so it can make them (`card_reader/offline_wire.py` is the wire).

- `programmes.py`: which programmes' purses may be redeemed offline, with their caps;
- `bundle.py`: the CA certificates, the latest CRL and the rest of what the daemon keeps;
- `judge.py`: the checks a synced redemption passes, in the order the API promises;
- `post.py`: the one balanced entry (purse, then the programme's offline risk) and the row;
- `api.py`: the two routes.
"""
