"""Typed models of what the API sends and takes, as frozen dataclasses (no runtime dependency
beyond httpx).

Attribute names are the API's camelCase fields in snake_case; `from_json` ignores fields it
does not know, so a newer server does not break an older client. The dataclasses are
generated from the API's OpenAPI document (clients/python/generate.py writes _generated.py;
_base.py holds what they inherit), and tests/clients checks them against the server's
/openapi.json.
"""

from __future__ import annotations

from . import _generated
from ._base import FINAL_STATUSES, camel, snake
from ._generated import *  # noqa: F403  # every model, under its public name

__all__ = ["FINAL_STATUSES", "camel", "snake", *_generated.__all__]

# This module is the models' public home: repr, help() and pickles name it. (from_json reads
# a field's annotation in it, which is why every generated name is re-exported above.)
for _name in _generated.__all__:
    _model = getattr(_generated, _name)
    if isinstance(_model, type):
        _model.__module__ = __name__
del _name, _model
