"""Entry point for `celery -A backend.worker worker`: the same app gunicorn serves."""

from backend.wsgi import app as flask_app
from backend.wsgi import celery

__all__ = ["celery", "flask_app"]
