"""WSGI entry point for gunicorn: `gunicorn backend.wsgi:app`."""

from backend.app import create_app
from backend.tasks import celery_init_app

app = create_app()
celery = celery_init_app(app)
