"""The SatuKartu card reader: PIV protocol, PC/SC, the daemon, and the virtual card.

Talks to the hub over HTTP only; never imports Flask or the hub's packages.
"""
