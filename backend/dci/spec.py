"""The SPDCI Social Registry OpenAPI document, loaded with its known defects mended.

The file beside this module is the standard as published (NOTICE.md); what is wrong
with it is put right here, in memory, so the copy stays comparable with upstream:

- `info.version` is swallowed by the description's block scalar: supplied ("1.0.0").
- an identifier's `value` is `oneOf` string | integer | number | boolean | object, and
  an integer is both an integer and a number, so every integer value fails `oneOf`:
  made `anyOf` (the same for the predicate's `attribute_value`, which refers to it).
- `servers` names the SPDCI sandbox: replaced by ours, so a validator matches our paths
  (`/dci/registry/search`, ...).
- the misspelled names some copies carry (`timesstamp`, `sunscription_codes`,
  `timesatmp`) are not in this one's schemas; we accept only the right spellings and
  send only those (MAPPING.md).

The document is data: `document()` returns a fresh deep copy each time, so no caller
can change what the next one sees.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml

FILE = "social_api_v1.0.0.yaml"
VERSION = "1.0.0"
BASE_PATH = "/dci"


@functools.cache
def _mended() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(FILE).read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    doc["info"].setdefault("version", VERSION)
    doc["servers"] = [{"url": BASE_PATH, "description": "this hub"}]
    value = doc["components"]["schemas"]["SubscriptionInfo"]["properties"]["filter"][
        "anyOf"][1]["properties"]["value"]
    for part in value["allOf"]:
        if "oneOf" in part:
            part["anyOf"] = part.pop("oneOf")
    return doc


def document(server: str | None = None) -> dict[str, Any]:
    """The mended document; `server` (e.g. "http://hub.test/dci") replaces its server."""
    doc = copy.deepcopy(_mended())
    if server is not None:
        doc["servers"] = [{"url": server}]
    return doc


def paths() -> list[str]:
    """The standard's paths (relative to BASE_PATH), in the document's order."""
    return list(_mended()["paths"])
