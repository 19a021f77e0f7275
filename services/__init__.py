"""The city's social-service programmes, one package each, all the same shape:

    __init__.py   exposes `module`, the object the entry point names
    module.py     the ServiceModule: title, parameters, actions, allocations
    rules.py      who is eligible and for how much: in Python for one citizen, and as
                  one SQL select over the whole registry for the allocation
    schemas.py    the actions' input models

Their purses' rules (holder, cashable, carry-over, categories, caps, agent categories)
are data, in `services.toml` beside this file: the default a city's
`SATUKARTU_SERVICES_FILE` is laid over (`backend.services.purse_rules`).

A programme imports only `backend.services` (the plugin interface).
"""
