"""``carsight serve dashboard`` (the Streamlit app) and ``carsight serve api`` (the REST API).

Safe defaults: on a loopback address with no users, nothing asks for a sign-in (the local one-person
experience); any other address needs users (``carsight user add``), or for the API at least the
bootstrap token, so nothing is served to the network without a sign-in.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from carsight.cli.common import console, settings
from carsight.errors import InputError
from carsight.i18n import t


def register(app: typer.Typer) -> None:
    serve = typer.Typer(help="Run the web dashboard or the REST API.", no_args_is_help=True)
    serve.command("dashboard", help="Start the web dashboard (Streamlit), reading the warehouse read-only.")(dashboard)
    serve.command("api", help="Start the REST API (uvicorn).")(api)
    app.add_typer(serve, name="serve")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1 or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _refuse_network_without_users(host: str, *, token: bool = False) -> None:
    """Stop before serving a non-loopback address when nobody could sign in (no users, no token)."""
    from carsight.access.users import AccessStore

    if is_loopback(host) or token or AccessStore.from_settings(settings()).has_users():
        return
    raise InputError(t("access.serve.needs_users", settings().lang, host=host), column="--host")


def dashboard_command(port: int, host: str) -> list[str]:
    """The ``streamlit run`` command line for the dashboard (static serving on: it serves the font)."""
    from carsight.dashboard import APP_PATH
    from carsight.dashboard.fonts import FONT_STACK

    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--server.enableStaticServing",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
        # Streamlit's own text (and its canvas-drawn tables) in the served Korean face; the
        # @font-face rules come from the app (carsight.dashboard.fonts.css).
        "--theme.font",
        FONT_STACK,
        "--theme.headingFont",
        FONT_STACK,
    ]


def dashboard(
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on")] = 8501,
    host: Annotated[
        str,
        typer.Option(
            "--host", help="Address to listen on (0.0.0.0 for the network: needs users, see `carsight user add`)"
        ),
    ] = "127.0.0.1",
) -> None:
    from carsight.config import warehouse_url
    from carsight.errors import WarehouseError

    s = settings()
    _refuse_network_without_users(host)
    url = warehouse_url(s.warehouse)
    path = Path(url[len("duckdb://") :]) if url.startswith("duckdb://") and not url.endswith(":memory:") else None
    if path is not None and not path.exists():
        raise WarehouseError(f"warehouse {path} does not exist yet: run `carsight demo` or `carsight init` first")
    env = dict(os.environ)
    # The app runs in Streamlit's process and reads settings from the environment: pass on what
    # the global flags chose (--warehouse, --lang).
    env["CARSIGHT_WAREHOUSE"] = str(path.resolve()) if path is not None else s.warehouse
    env["CARSIGHT_LANG"] = s.lang
    env["CARSIGHT_MODEL_DIR"] = str(s.model_dir.resolve())
    env["CARSIGHT_OUTPUT_DIR"] = str(s.output_dir.resolve())
    env["CARSIGHT_ACCESS_STORE"] = str(s.access_store_path.resolve())
    console.print(f"carsight dashboard on http://{host}:{port}  (warehouse {env['CARSIGHT_WAREHOUSE']})")
    command = dashboard_command(port, host)
    sys.stdout.flush()
    # Replace this process so that stopping `carsight serve dashboard` stops the server itself.
    os.execve(command[0], command, env)


def api(
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on")] = 8000,
    host: Annotated[
        str,
        typer.Option(
            "--host", help="Address to listen on (0.0.0.0 for the network: needs users or CARSIGHT_API_TOKEN)"
        ),
    ] = "127.0.0.1",
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Run without a bearer token (only on 127.0.0.1, for local use)")
    ] = False,
) -> None:
    import uvicorn

    from carsight.api.app import create_app

    s = settings()
    if insecure and not is_loopback(host):
        raise InputError("--insecure is only allowed on 127.0.0.1", column="--host", expected="--host 127.0.0.1")
    # The bootstrap token (CARSIGHT_API_TOKEN) is a sign-in too: an API started with it alone works as before users.
    _refuse_network_without_users(host, token=s.api_token is not None)
    # Build the app here so that a configuration error (no token) is one clear line, not a
    # traceback from inside uvicorn.
    app = create_app(s, insecure=insecure or None)
    console.print(f"carsight API on http://{host}:{port}  (docs at /docs)")
    uvicorn.run(app, host=host, port=port)
