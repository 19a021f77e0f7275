"""WSGI entry point for gunicorn (`gunicorn backend.wsgi:app`): the hub and its screens."""

import admin
from backend.app import create_app
from backend.tasks import celery_init_app

app = create_app()
admin.init_app(app)
celery = celery_init_app(app)
