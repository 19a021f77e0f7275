"""Two-person approval for what can hurt many people at once (see service.py)."""
