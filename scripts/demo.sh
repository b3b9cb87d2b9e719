#!/usr/bin/env bash
# The whole flow on the bundled real data, for both companies: Online Retail (default workspace)
# and SCMS. Each step is one `strata` command a user would type.
set -euo pipefail
cd "$(dirname "$0")/.."
export MLFLOW_DISABLE_TELEMETRY=true
S=.venv/bin/strata
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

for cfg in configs/strata.yaml configs/scms.yaml; do
  step "features build ($cfg)"
  $S features build --config "$cfg"

  step "train with the rules labeller and promote it to champion through the gates ($cfg)"
  $S train --config "$cfg"
  rules=$($S models --config "$cfg" --latest)
  $S promote "$rules" --to champion --config "$cfg" \
    || $S promote "$rules" --to champion --force --reason "demo: first champion" --config "$cfg"

  step "train with HDBSCAN clusters; its gates for staging, against the champion ($cfg)"
  $S train --config "$cfg" --labels clusters
  clusters=$($S models --config "$cfg" --latest)
  $S promote "$clusters" --to staging --config "$cfg" \
    || echo "(the gates keep version $clusters out of staging: see the report above)"

  step "score with the champion: assignments + explanations ($cfg)"
  $S score --config "$cfg"

  step "rolling backtest of the champion's segments: strategies, calibration per segment ($cfg)"
  $S simulate --backtest --config "$cfg"

  step "policies (calibrated by that backtest), service levels optimised, simulation, KPIs ($cfg)"
  $S policy build --config "$cfg"
  $S policy optimise --config "$cfg"
  $S simulate --config "$cfg"
  $S kpis --config "$cfg"
  $S models --config "$cfg"
done

step "README result tables and the product-page screenshot from this run"
.venv/bin/python scripts/readme_results.py
.venv/bin/python scripts/product_screenshot.py

step "operations: two refreshes a month apart; what monitoring measured and the actions it took"
$S refresh --as-of 2011-11-11 --triggered-by demo
$S refresh --triggered-by demo
$S runs monitoring --limit 1
$S runs actions --limit 1

step "a planner's questions"
$S explain 85123A
$S policy show 85123A

cat <<'TXT'

Where to look:
  snapshots    warehouse/{online_retail,scms}/features/as_of=*/ (features.parquet + manifest.json)
  quarantine   warehouse/*/tables/quarantine.parquet (every rejected row with its reason)
  outputs      warehouse/*/outputs/ (assignments, explanations, policies per as_of and model version)
  reports      warehouse/*/reports/ (simulation report, trade-off chart, backtest.json and
               backtest_frontier.png: every strategy from 4 origins, calibration per segment)
  MLflow UI    .venv/bin/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --workers 1
               (SCMS: sqlite:///mlruns/scms/mlflow.db), then http://127.0.0.1:5000
  one product  .venv/bin/strata features show 85123A ; .venv/bin/strata explain 85123A --plot why.png
  audit        .venv/bin/strata audit 85123A ; .venv/bin/strata models
  operations   .venv/bin/strata runs history ; strata runs monitoring ; strata runs actions
               (warehouse/online_retail/monitoring/, reports/monitoring.png)
TXT
