"""Under `satukartu serve` (gunicorn, 2 workers) a scrape sums every worker's counts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from tests.backend.observability.metrics_text import sample
from tests.support.private_services import free_port
from tests.support.served_hub import SATUKARTU, serving

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("served_metrics")]



def _answers(url: str) -> bool:
    """A long timeout: a probe given up on while a worker boots would still be answered,
    and counted, after the test's first scrape."""
    try:
        return requests.get(url + "/api/v1/health", timeout=60).status_code == 200
    except requests.RequestException:
        return False


def _worker_files(folder: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[-1] for path in folder.glob("counter_*.db")}


def test_a_counter_sums_the_requests_of_both_gunicorn_workers(tmp_path):
    instance = tmp_path / "instance"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SATUKARTU_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env |= {"SATUKARTU_INSTANCE_DIR": str(instance), "SATUKARTU_ORIGIN": url,
            "SATUKARTU_LOG_FORMAT": "json"}
    migrated = subprocess.run([SATUKARTU, "db", "upgrade"], env=env, capture_output=True,
                              text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    stale = instance / "metrics" / "counter_999999.db"  # an earlier run's: cleared at start
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")
    log = tmp_path / "serve.log"
    with serving(env, port, log, lambda: _answers(url), wait=90):
        assert not stale.exists()
        health = {"endpoint": "/api/v1/health", "method": "GET", "status": "200"}
        before = sample(requests.get(url + "/api/v1/metrics", timeout=10).text,
                        "satukartu_responses_total", **health)
        sent = 0
        while len(_worker_files(instance / "metrics")) < 2 and sent < 500:
            with requests.Session() as fresh:  # a new connection: any worker may take it
                assert fresh.get(url + "/api/v1/health", timeout=10).status_code == 200
            sent += 1
        assert len(_worker_files(instance / "metrics")) >= 2, "one worker took every request"
        scraped = requests.get(url + "/api/v1/metrics", timeout=10)
        assert scraped.status_code == 200, scraped.text
        total = sample(scraped.text, "satukartu_responses_total", **health)
        assert total == before + sent, (before, sent, total, scraped.text[-3000:])
