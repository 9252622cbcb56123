"""One definition per time field: the OpenAPI document, the CRD and docs/api.md carry the same
words (coderun_operator.time_fields), and a real compiled run keeps their arithmetic."""

from __future__ import annotations

from typing import Any

import yaml
from coderun_operator import time_fields as t
from coderun_sandbox.contract import DEFAULT_TIME_LIMIT_MS, ms_between, parse_iso_utc

from tests.api.helpers import Api
from tests.fixtures.cluster import REPO_ROOT

# Each value is rounded to a millisecond on its own: sums may differ by that much per term.
ROUNDING_MS = 3


def _result_schema(api: Api) -> dict[str, Any]:
    schema = api.client.get("/openapi.json").json()
    result = schema["paths"]["/api/v1/runner/{jobId}/result"]["get"]["responses"]["200"]
    envelope_ref = result["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    components = schema["components"]["schemas"]
    data_ref = components[envelope_ref]["properties"]["data"]["anyOf"][0]["$ref"].split("/")[-1]
    properties: dict[str, Any] = components[data_ref]["properties"]
    return properties


def test_the_openapi_document_defines_each_time_field(api: Api) -> None:
    properties = _result_schema(api)
    for field, definition in t.RESULT_TIME_FIELDS.items():
        assert properties[field]["description"] == definition, field


def test_the_crd_defines_the_time_limit_and_the_times() -> None:
    crd = yaml.safe_load((REPO_ROOT / "crds" / "coderun.dev_coderuns.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    assert schema["spec"]["properties"]["timeLimitMs"]["description"] == t.TIME_LIMIT_MS
    assert "wall time" in t.TIME_LIMIT_MS and "CPU time" in t.TIME_LIMIT_MS
    result = schema["status"]["properties"]["result"]["properties"]
    assert result["cpuTimeMs"]["description"] == t.CPU_TIME_MS
    assert result["compileTimeMs"]["description"] == t.COMPILE_TIME_MS
    # The runner's executionTimeMs is the run alone: the API's runTimeMs.
    assert result["executionTimeMs"]["description"].endswith(t.RUN_TIME_MS)
    assert "runTimeMs" in result["executionTimeMs"]["description"]


def test_docs_api_md_gives_the_same_definitions() -> None:
    docs = (REPO_ROOT / "docs" / "api.md").read_text()
    for field, definition in t.RESULT_TIME_FIELDS.items():
        assert f"| `{field}` | {definition} |" in docs, field
    assert t.TIME_LIMIT_MS in docs


def test_a_compiled_run_keeps_the_arithmetic(api: Api) -> None:
    _, key = api.new_account()
    code = '#include <iostream>\nint main(){long s=0;for(long i=0;i<50000000;i++)s+=i;std::cout<<s<<"\\n";}\n'
    data = api.run(key, code, "cpp")
    assert data["status"] == "success", data
    queued, started, finished = (
        parse_iso_utc(data[k]) for k in ("queuedAt", "startedAt", "finishedAt")
    )
    assert data["queueTimeMs"] == ms_between(queued, started)
    assert data["executionTimeMs"] == ms_between(started, finished)
    assert data["totalTimeMs"] == data["queueTimeMs"] + data["executionTimeMs"]
    # Compilation is inside executionTimeMs, and so is the run.
    assert data["compileTimeMs"] > 0 and data["runTimeMs"] > 0
    assert data["executionTimeMs"] >= data["compileTimeMs"] + data["runTimeMs"] - ROUNDING_MS
    # The limit bounds the run's wall and CPU time, never the compilation.
    assert data["runTimeMs"] <= DEFAULT_TIME_LIMIT_MS
    assert 0 <= data["cpuTimeMs"] <= DEFAULT_TIME_LIMIT_MS
