"""The `strata` CLI: one verb per stage. Heavy libraries are imported inside the commands."""

from __future__ import annotations

import warnings

import typer

from strata.cli_actions import runs_actions
from strata.cli_features import features_app, synth
from strata.cli_models import gates_app, models_app, override_app, promote, rollback
from strata.cli_monitoring import runs_monitoring
from strata.cli_policy import policy_app
from strata.cli_refresh import refresh_command, runs_history
from strata.cli_schedule import schedule_command
from strata.cli_score import audit, explain, score_app
from strata.cli_simulate import kpis, simulate
from strata.cli_train import runs_app, train
from strata.cli_users import models_serve, serve, users_app

# pandera imports pyspark.pandas when pyspark is installed (the [spark] extra), which warns about
# pandas 3 on every command that validates a table; the warning is about pyspark, not our data.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark(\..*)?$")

app = typer.Typer(
    help="Strata: segment products for the supply chain and turn segments into inventory policies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(features_app, name="features")
app.add_typer(policy_app, name="policy")
app.command("synth")(synth)
app.command("train")(train)
app.add_typer(runs_app, name="runs")
runs_app.command("history")(runs_history)
runs_app.command("monitoring")(runs_monitoring)
runs_app.command("actions")(runs_actions)
app.command("refresh")(refresh_command)
app.command("schedule")(schedule_command)
app.command("simulate")(simulate)
app.command("kpis")(kpis)
app.add_typer(gates_app, name="gates")
app.command("promote")(promote)
app.command("rollback")(rollback)
app.add_typer(models_app, name="models")
app.add_typer(override_app, name="override")
app.add_typer(score_app, name="score")
app.command("explain")(explain)
app.command("audit")(audit)
app.add_typer(users_app, name="users")
app.command("serve")(serve)
models_app.command("serve")(models_serve)

if __name__ == "__main__":  # pragma: no cover
    app()
