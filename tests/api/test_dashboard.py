"""Dashboard endpoints: account, history with filters and pages, stats, languages, pages."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from coderun_api.stats import JobRow, aggregate, percentile
from coderun_sandbox.contract import iso_utc, utc_now

from tests.api.conftest import MakeApi
from tests.api.helpers import Api


def test_history_filters_pagination_and_stats(any_db_api: Api) -> None:
    api = any_db_api
    _, key = api.new_account(credits=10)
    headers = {"X-API-KEY": key}
    before = iso_utc(utc_now() - timedelta(seconds=1))
    ok = [api.run(key, f"print({i})")["jobId"] for i in range(3)]
    crashed = api.run(key, "raise SystemExit(2)")["jobId"]
    js = api.run(key, "console.log('js')", "javascript")["jobId"]

    page1 = api.client.get("/api/v1/jobs?pageSize=2", headers=headers).json()["data"]
    assert (page1["total"], page1["page"], page1["pageSize"]) == (5, 1, 2)
    assert [item["jobId"] for item in page1["items"]] == [js, crashed]  # newest first
    page3 = api.client.get("/api/v1/jobs?pageSize=2&page=3", headers=headers).json()["data"]
    assert [item["jobId"] for item in page3["items"]] == [ok[0]]
    item = page1["items"][0]
    assert {"jobId", "status", "language", "queuedAt", "stdout", "executionTimeMs"} <= set(item)

    def ids(query: str) -> list[str]:
        data = api.client.get(f"/api/v1/jobs?{query}", headers=headers).json()["data"]
        return [i["jobId"] for i in data["items"]]

    assert ids("language=javascript") == [js]
    assert ids("status=failed") == [crashed]
    assert ids("errorType=RuntimeError") == [crashed]
    assert set(ids("status=success&language=python")) == set(ok)
    assert ids(f"from={before}&pageSize=100") != []
    assert ids(f"to={before}") == []
    assert ids(f"from={iso_utc(utc_now() + timedelta(hours=1))}") == []

    stats = api.client.get("/api/v1/jobs/stats?bucket=hour", headers=headers).json()["data"]
    assert stats["count"] == 5
    assert stats["successRate"] == 0.8
    assert stats["creditsUsed"] == 4
    assert stats["meanExecutionTimeMs"] > 0 and stats["p95ExecutionTimeMs"] > 0
    assert sum(b["count"] for b in stats["series"]) == 5
    assert set(stats["series"][0]) == {
        "bucketStart", "count", "successCount", "successRate", "meanExecutionTimeMs",
    }  # fmt: skip

    account = api.client.get("/api/v1/account", headers=headers).json()["data"]
    assert (account["credits"], account["creditsUsed"], account["early"]) == (6, 4, False)


def test_stats_math() -> None:
    assert percentile(list(range(1, 101)), 0.95) == 95.0
    assert percentile([], 0.95) is None
    now = utc_now().replace(hour=10, minute=30)
    rows = [
        JobRow(now, "success", 100, True),
        JobRow(now, "failed", 300, False),
        JobRow(now + timedelta(hours=1), "success", 200, True),
        JobRow(now + timedelta(hours=1), "queued", None, False),
    ]
    data = aggregate(rows, "hour")
    assert data.count == 4 and data.credits_used == 2
    assert data.success_rate == round(2 / 3, 4)
    assert data.mean_execution_time_ms == 200.0 and data.p95_execution_time_ms == 300.0
    assert [b.count for b in data.series] == [2, 2]
    assert aggregate(rows, "day").series[0].count == 4


def test_languages_are_public(api: Api) -> None:
    response = api.client.get("/api/v1/languages")
    assert response.status_code == 200
    languages = {lang["key"]: lang for lang in response.json()["data"]}
    assert set(languages) >= {"python", "javascript", "cpp", "java"}
    assert languages["python"]["display"] and "print" in languages["python"]["starter"]


def test_static_pages_are_served_and_missing_dir_is_tolerated(
    make_api: MakeApi, tmp_path: Path
) -> None:
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    for name in ("index", "signin", "signup", "dashboard", "playground"):
        (static / f"{name}.html").write_text(f"<h1>{name}</h1>")
    (static / "assets" / "app.js").write_text("console.log(1)")
    api = make_api(static_dir=static)
    for path, name in [("/", "index"), ("/signin", "signin"), ("/signup", "signup"),
                       ("/dashboard", "dashboard"), ("/playground", "playground")]:  # fmt: skip
        response = api.client.get(path)
        assert response.status_code == 200 and name in response.text, path
        assert response.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    assert api.client.get("/assets/app.js").text == "console.log(1)"
    assert api.client.get("/assets/missing.js").status_code == 404

    empty = make_api(static_dir=tmp_path / "nothing-here")
    assert empty.client.get("/").status_code == 404
    assert empty.client.get("/assets/app.js").status_code == 404
    assert empty.client.get("/healthz").status_code == 200


def test_health_readiness_metrics_and_docs(api: Api) -> None:
    assert api.client.get("/healthz").json()["data"] == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["data"] == {"database": "ok"}
    _, key = api.new_account()
    api.run(key, "print(1)")
    metrics = api.client.get("/metrics").text
    assert 'coderun_submissions_total{language="python"}' in metrics
    assert 'coderun_verdicts_total{error_type="",language="python",status="success"}' in metrics
    assert "coderun_queue_depth" in metrics
    assert 'route="/api/v1/runner/{jobId}/result"' in metrics
    schema = api.client.get("/openapi.json").json()
    submit = schema["paths"]["/api/v1/runner/submit"]["post"]
    components = schema["components"]["schemas"]

    def answer(code: str) -> dict[str, Any]:
        ref: str = submit["responses"][code]["content"]["application/json"]["schema"]["$ref"]
        found: dict[str, Any] = components[ref.rsplit("/", 1)[-1]]
        return found

    # The declared envelope, its data the submission's jobId and status.
    data_ref = answer("200")["properties"]["data"]["anyOf"][0]["$ref"].rsplit("/", 1)[-1]
    assert set(components[data_ref]["properties"]) == {"jobId", "status"}
    assert "X-API-KEY" in str(schema["components"]["securitySchemes"])
    # Validation failures are documented as they are answered: 400 in the envelope.
    for operations in schema["paths"].values():
        for operation in operations.values():
            assert "422" not in operation["responses"]
    assert submit["responses"]["400"]["content"]["application/json"]["example"]["success"] is False
    assert answer("400")["properties"]["success"]["const"] is False
    assert api.client.get("/docs").status_code == 200


def test_readyz_reports_an_unreachable_redis(make_api: MakeApi) -> None:
    from tests.fixtures.services import free_port

    api = make_api(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["data"]["database"] == "ok"
    assert ready.json()["data"]["redis"].startswith("unreachable")


def test_every_log_line_about_a_job_names_it(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from coderun_api.logs import JsonFormatter

    _, key = api.new_account()
    with caplog.at_level(logging.INFO):
        job_id = api.run(key, "print(1)")["jobId"]
    ours = [r for r in caplog.records if r.name.startswith("coderun_api")]
    about_job = [r for r in ours if job_id in r.getMessage() or hasattr(r, "jobId")]
    messages = {r.getMessage() for r in about_job}
    assert {"job queued", "job running", "job finished", "request"} <= messages
    assert all(getattr(r, "jobId", None) == job_id for r in about_job)
    line = json.loads(JsonFormatter().format(about_job[0]))
    assert line["jobId"] == job_id and line["level"] == "INFO"


def test_stats_mean_is_the_execution_time_the_history_shows(api: Api) -> None:
    """One figure, one name: the dashboard's mean execution time of a single compiled run is
    that run's executionTimeMs (compile included), not its runTimeMs."""
    _, key = api.new_account()
    job_id = api.submit(key, "int main() { return 0; }", language="cpp").json()["data"]["jobId"]
    result = api.wait_final(key, job_id)
    assert result["status"] == "success"
    assert result["executionTimeMs"] > result["runTimeMs"]  # g++ took part of it
    history = api.client.get("/api/v1/jobs", headers={"X-API-KEY": key}).json()["data"]
    stats = api.client.get("/api/v1/jobs/stats", headers={"X-API-KEY": key}).json()["data"]
    assert history["items"][0]["executionTimeMs"] == result["executionTimeMs"]
    assert stats["meanExecutionTimeMs"] == result["executionTimeMs"]
    assert stats["p95ExecutionTimeMs"] == result["executionTimeMs"]
    assert stats["series"][0]["meanExecutionTimeMs"] == result["executionTimeMs"]
