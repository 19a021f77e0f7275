"""Long batched tasks have a queue of their own, so a month's allocation never holds up
a checkpoint, a CRL or the partitions' upkeep behind it."""

import pytest

from backend.tasks import BULK_QUEUE, BULK_TASKS, DEFAULT_QUEUE, celery_init_app


def _queue(celery, name):
    return celery.amqp.router.route({}, name)["queue"].name


@pytest.mark.parametrize("name", BULK_TASKS)
def test_a_long_task_goes_to_the_bulk_queue(app, name):
    assert _queue(celery_init_app(app), name) == BULK_QUEUE


@pytest.mark.parametrize("name", ["backend.audit.tasks.checkpoint",
                                  "backend.cards.tasks.publish_crl", "partitions.ensure",
                                  "approvals.expire_due", "ledger.allocate_due"])
def test_a_short_task_goes_to_the_default_queue(app, name):
    assert _queue(celery_init_app(app), name) == DEFAULT_QUEUE


def test_every_bulk_task_is_a_task_of_the_hub(app):
    assert set(BULK_TASKS) <= set(celery_init_app(app).tasks)
