"""Entry point for `celery -A backend.worker worker`: one Flask app, one Celery app."""

from backend.app import create_app
from backend.tasks import celery_init_app

flask_app = create_app()
celery = celery_init_app(flask_app)
