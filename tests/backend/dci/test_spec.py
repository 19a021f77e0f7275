"""The standard's document as we load it: valid once mended, and every path served."""

from __future__ import annotations

from importlib import resources

from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from backend.dci import spec
from backend.dci.envelope import ACTIONS


def test_the_mended_document_is_a_valid_openapi_document():
    validate(spec.document())
    assert spec.document()["info"]["version"] == "1.0.0"


def test_the_copy_beside_the_code_keeps_its_defect_mended_on_load_only():
    text = resources.files("backend.dci").joinpath(spec.FILE).read_text(encoding="utf-8")
    assert "\n  version:" not in text.split("\nservers:")[0]


def test_every_path_of_the_document_is_served(app):
    served = {rule.rule.removeprefix(spec.BASE_PATH) for rule in app.url_map.iter_rules()
              if rule.rule.startswith(spec.BASE_PATH + "/registry/")}
    assert served == set(spec.paths()) == set(ACTIONS)


def test_an_integer_identifier_value_is_valid_once_mended():
    value = spec.document()["components"]["schemas"]["SubscriptionInfo"]["properties"][
        "filter"]["anyOf"][1]
    assert not list(OAS30Validator(value).iter_errors({"type": "NIK", "value": 12345}))
