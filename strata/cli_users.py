"""`strata users add|list` and `strata serve`: who may use the HTTP service, and starting it."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from strata.cli_common import DEFAULT_CONFIG, ConfigOpt, fail, run, workspace

__all__ = ["models_serve", "serve", "users_app"]

users_app = typer.Typer(
    help="Users of `strata serve`: add (prints an API token once), list.", no_args_is_help=True
)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="user name, e.g. alice")],
    role: Annotated[
        str, typer.Option("--role", help="planner | approver | mlops | data_scientist | admin")
    ],
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Add a user with a role and print their API token (shown this once; only a hash is kept)."""
    from ml.config.files import load_roles_config
    from store.users import add_user

    ws = workspace(config)
    roles = run(load_roles_config, ws, None)
    token = run(add_user, ws, name, role, list(roles.roles), _os_user())
    typer.echo(f"user {name} added with role {role}. API token (shown once, keep it safe):")
    typer.echo(token)


@users_app.command("list")
def users_list(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Every user with role, added when and by whom."""
    from store.users import list_users

    frame = run(list_users, workspace(config))
    if frame.empty:
        typer.echo("no users; add one with `strata users add NAME --role ROLE`")
        return
    for _, r in frame.iterrows():
        typer.echo(
            f"{r['name']:<20} {r['role']:<15} added {r['created_at']:%Y-%m-%d %H:%M} by {r['created_by']}"
        )


def serve(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Start the HTTP API and planner pages (FastAPI under uvicorn; OpenAPI at /docs)."""
    from strata.cli_models import quiet_serving

    quiet_serving()
    import uvicorn

    from api.app import create_app

    ws = workspace(config)
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: listening on {host}, not loopback; put TLS in front of it", err=True)
    app = run(create_app, ws)
    if app is None:
        fail("the service could not start")
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


def models_serve(
    alias: Annotated[str, typer.Option("--alias", help="champion | staging")] = "champion",
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 5001,
    config: ConfigOpt = DEFAULT_CONFIG,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the command and its environment, do not run")
    ] = False,
) -> None:
    """Serve the model holding ALIAS with MLflow's own server (`mlflow models serve`).

    Sets what MLflow needs that a fresh shell lacks: MLFLOW_TRACKING_URI (the workspace's
    registry) and the venv's bin/ on PATH (MLflow starts uvicorn by name); --env-manager local.
    """
    import os
    import shlex
    import sys
    from pathlib import Path

    from store.registry import check_alias, resolve_version
    from strata.cli_models import serving_context

    ctx = serving_context(config)
    run(check_alias, alias)
    info = run(resolve_version, ctx.ref, alias)
    bin_dir = Path(sys.executable).parent
    env = {
        "MLFLOW_TRACKING_URI": ctx.ref.tracking_uri,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    cmd = [str(bin_dir / "mlflow"), "models", "serve", "-m"]
    cmd += [f"models:/{ctx.ref.model_name}@{alias}", "--env-manager", "local"]
    cmd += ["-h", host, "-p", str(port), "-w", "1"]
    typer.echo(
        f"serving {ctx.ref.model_name} v{info.version} (@{alias}) on http://{host}:{port} "
        f"(POST /invocations, GET /ping)"
    )
    typer.echo(f"MLFLOW_TRACKING_URI={shlex.quote(env['MLFLOW_TRACKING_URI'])} {shlex.join(cmd)}")
    if dry_run:
        return
    os.execve(cmd[0], cmd, {**os.environ, **env})
