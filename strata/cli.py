"""The `strata` CLI: one verb per stage. Heavy libraries are imported inside the commands."""

from __future__ import annotations

import typer

from strata.cli_features import features_app, synth
from strata.cli_policy import policy_app
from strata.cli_simulate import kpis, simulate
from strata.cli_train import runs_app, train

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
app.command("simulate")(simulate)
app.command("kpis")(kpis)

if __name__ == "__main__":  # pragma: no cover
    app()
