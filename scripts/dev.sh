#!/usr/bin/env bash
# One entry point for a fresh machine: it creates .venv (once), installs the
# project into it, then runs what you asked for.
#   bash scripts/dev.sh example   run the example workflow on the embedded broker
#   bash scripts/dev.sh test      run the whole test suite (starts PostgreSQL when
#                                 none answers: see scripts/postgres.sh)
#   bash scripts/dev.sh bench ... run the benchmark harness (arguments passed on)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Reinstall when the project (or an extra) is missing from the venv's metadata.
if ! .venv/bin/python -c "import importlib.metadata as m; [m.version(p) for p in ('arvo-concurrent', 'pytest-timeout', 'hypothesis', 'matplotlib', 'psycopg', 'psycopg-pool', 'opentelemetry-api', 'opentelemetry-sdk', 'cloudevents')]" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev,bench]'
fi
cmd="${1:-test}"
shift || true
case "$cmd" in
  test)
    # shellcheck source=scripts/postgres.sh
    source scripts/postgres.sh
    pg_ensure
    if [ -z "$ARVO_PG_STOP" ]; then exec .venv/bin/python -m pytest "$@"; fi
    status=0
    .venv/bin/python -m pytest "$@" || status=$?
    eval "$ARVO_PG_STOP"
    exit "$status"
    ;;
  example) exec .venv/bin/python examples/approval_workflow.py "$@" ;;
  bench) exec .venv/bin/python -m benchmarks "$@" ;;
  *) echo "usage: bash scripts/dev.sh {test|example|bench} [args...]" >&2; exit 2 ;;
esac
