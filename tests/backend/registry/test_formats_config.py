"""The national number formats a city accepts are configuration, not code."""

import pytest

from backend.app import create_app
from backend.config import ConfigError
from backend.reasons import Reason
from backend.registry.national_ids import make_thai
from tests.backend.registry.conftest import new_citizen_body

THAI = make_thai("110170020345")


def test_a_thai_number_is_refused_where_only_nik_is_accepted(app, client, clerk):
    app.config["NATIONAL_ID_FORMATS"] = ("nik",)
    answer = client.post("/api/v1/citizens", json=new_citizen_body(national_number=THAI),
                         headers=clerk)
    assert answer.status_code == 422
    assert answer.json["error"]["reason"] == Reason.INVALID_NATIONAL_NUMBER


def test_a_thai_number_is_accepted_where_the_city_accepts_thai(app, client, clerk):
    app.config["NATIONAL_ID_FORMATS"] = ("nik", "thai")
    answer = client.post("/api/v1/citizens", headers=clerk,
                         json=new_citizen_body(national_number=THAI[:1] + "-" + THAI[1:]))
    assert answer.status_code == 201, answer.json
    assert answer.json["national_number"] == THAI


def test_a_wrong_thai_check_digit_names_both_formats_problems(app, client, clerk):
    app.config["NATIONAL_ID_FORMATS"] = ("nik", "thai")
    wrong = THAI[:-1] + str((int(THAI[-1]) + 1) % 10)
    answer = client.post("/api/v1/citizens", json=new_citizen_body(national_number=wrong),
                         headers=clerk)
    problems = answer.json["error"]["details"]["problems"]
    assert [p["format"] for p in problems] == ["nik", "thai"]
    assert "check digit" in problems[1]["problem"]


def test_the_hub_refuses_to_start_with_an_unknown_format(instance_dir):
    with pytest.raises(ConfigError, match="NATIONAL_ID_FORMATS: passport"):
        create_app(INSTANCE_DIR=str(instance_dir), NATIONAL_ID_FORMATS=("nik", "passport"))
