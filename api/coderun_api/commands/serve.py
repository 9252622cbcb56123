"""`coderun serve`: the REST API, dashboard and playground."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")


def main(args: argparse.Namespace) -> int:
    import uvicorn

    from coderun_api.config import get_settings
    from coderun_api.logs import configure_logging
    from coderun_api.main import create_app

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    from sqlalchemy.engine import make_url

    where = (
        settings.data_dir
        if settings.is_sqlite
        else make_url(settings.effective_database_url).render_as_string(hide_password=True)
    )
    base = f"http://{args.host}:{args.port}"
    cli = sys.argv[0] if sys.argv[0].endswith("coderun") else "coderun"
    print(
        f"CodeRun API on {base}  (executor: {settings.executor}, data: {where})\n"
        f"  dashboard:   {base}/signup  (create an account, then generate an API key)\n"
        f"  admin:       {cli} account create you@example.com   prints an API key "
        "(same CODERUN_* environment)\n"
        f"  API docs:    {base}/docs\n"
        f"  try it:      curl -s -X POST {base}/api/v1/runner/submit -H 'X-API-KEY: nr_live_...' "
        "-H 'Content-Type: application/json' "
        """-d '{"language":"python","code":"print(1)","input":""}'""",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    return 0
