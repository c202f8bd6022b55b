#!/usr/bin/env bash
# One command for a fresh machine: Python environment, then the pinned upstream binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || { echo "error: $PYTHON not found; install Python 3.11 or set PYTHON=" >&2; exit 1; }
# Debian packages: podman, runc and mmdebstrap build and run the runner image; PostgreSQL is
# the external store the tests start.
DEBS="podman runc mmdebstrap postgresql"
missing=$(for p in $DEBS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"
done | xargs)
if [ -n "$missing" ]; then
  command -v apt-get >/dev/null || { echo "error: install these Debian packages: $missing" >&2; exit 1; }
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing Debian packages: $missing"
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -q $missing >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q $missing >/dev/null; } \
    || { echo "error: could not install $missing; install them with apt-get and rerun" >&2; exit 1; }
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
# Bytecode for subkube's own modules, as a wheel install has it: where PYTHONDONTWRITEBYTECODE
# is set, every CLI call and every runner would compile them again, a few tenths of a second.
.venv/bin/python -m compileall -q src
.venv/bin/subkube binaries install
# The runner image the chart's pod runs in on local hosts: minutes after a change to the
# sources, a second when nothing changed. Its build needs root.
if [ "$(id -u)" -eq 0 ]; then
  .venv/bin/subkube image build
else
  echo "not root: the runner image is not built (its build needs root); the tests that run the chart's pod need it"
fi
