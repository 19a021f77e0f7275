"""Bulk jobs: batches, progress, failures, cancel and resume (see runner.py)."""
