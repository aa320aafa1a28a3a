#!/usr/bin/env bash
# Starts what the tests need: the s3s-fs S3 server binary, a local PostgreSQL, schemathesis
# for the API test, and Chromium with playwright-core for the web UI test.
# Idempotent: installs or starts only what is missing, and says what it does.
set -euo pipefail

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

if command -v s3s-fs >/dev/null 2>&1; then
    echo "s3s-fs: present at $(command -v s3s-fs)"
else
    echo "s3s-fs: missing, installing s3s-fs@0.14.1 into $CARGO_BIN (takes minutes)"
    CARGO_TARGET_DIR="${S3S_BUILD_DIR:-/tmp/s3s-build}" \
        cargo install s3s-fs@0.14.1 --features binary --locked
    echo "s3s-fs: installed at $(command -v s3s-fs)"
fi

if pg_isready -h 127.0.0.1 >/dev/null 2>&1; then
    echo "postgres: accepting connections on 127.0.0.1"
else
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    echo "postgres: not ready, starting cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 30); do
        if pg_isready -h 127.0.0.1 >/dev/null 2>&1; then break; fi
        sleep 1
    done
    pg_isready -h 127.0.0.1
    echo "postgres: started"
fi

# schemathesis (PyPI) checks every route's responses against the server's OpenAPI document
# (services/cli/tests/schemathesis.rs), from a virtual environment of its own.
SCHEMATHESIS_VERSION=4.32.5
if [ -x .venv-schemathesis/bin/st ] && .venv-schemathesis/bin/st --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "schemathesis: present ($(.venv-schemathesis/bin/st --version))"
else
    echo "schemathesis: installing $SCHEMATHESIS_VERSION into .venv-schemathesis"
    python3 -m venv .venv-schemathesis
    .venv-schemathesis/bin/pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
    echo "schemathesis: installed ($(.venv-schemathesis/bin/st --version))"
fi

# The web UI test (services/cli/tests/web_ui.rs) drives Debian's Chromium with playwright-core
# from the npm registry (never `npx playwright install`: browser downloads fail here).
if [ -x /usr/bin/chromium ]; then
    echo "chromium: present ($(/usr/bin/chromium --version 2>/dev/null))"
else
    echo "chromium: installing Debian's package"
    (apt-get install -y chromium >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y chromium >/dev/null))
    echo "chromium: installed ($(/usr/bin/chromium --version 2>/dev/null))"
fi
if [ -d services/cli/tests/ui/node_modules/playwright-core ]; then
    echo "playwright-core: present"
else
    echo "playwright-core: installing into services/cli/tests/ui/node_modules"
    npm install --silent --no-audit --no-fund --prefix services/cli/tests/ui
    echo "playwright-core: installed"
fi
