"""Irregularity signals at agents: what a programme's inspectors look for, day by day.

`judge.run` judges each of the city's local days with the detectors (`detect.py`) over
the journal and the audit log (`data.py`); the API, the command line and the daily job
(`signals.daily`) all call it, and `report.py` renders what it finds. This package sits
above the ledger and the documents (its reports use the audit log's PDF table).
"""
