"""The city's social-service programmes, one package each, all the same shape:

    __init__.py   exposes `module`, the object the entry point names
    module.py     the ServiceModule: title, parameters, purses, actions, allocations
    rules.py      who is eligible and for how much: in Python for one citizen, and as
                  one SQL select over the whole registry for the allocation
    schemas.py    the actions' input models

A programme imports only `backend.services` (the plugin interface).
"""
