#!/usr/bin/env bash
# Installs what the project needs on a Debian machine when it is missing:
# PostgreSQL server binaries (for the private database) always; with --test
# also what the test suite runs: the aiosmtpd SMTP server, the s3s-fs
# S3-compatible server, Node.js with npm (the GraphQL-over-HTTP audit), and
# Debian's chromium with playwright-core (the explorer's browser test).
set -euo pipefail
cd "$(dirname "$0")/.."

want_test_tools=false
for arg in "$@"; do
  [ "$arg" = "--test" ] && want_test_tools=true
done

have_postgres() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

apt_install() {
  local runner=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      runner=(sudo)
    else
      echo "error: cannot install $* without root or sudo; install it with: sudo apt-get install -y $*" >&2
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get not found; install $* with your package manager" >&2
    return 1
  fi
  echo "installing $* ..." >&2
  "${runner[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${runner[@]}" apt-get install -y -qq "$@" >/dev/null
}

if ! have_postgres; then
  apt_install postgresql
fi

if [ "$want_test_tools" != true ]; then
  exit 0
fi

have_aiosmtpd() {
  command -v python3 >/dev/null 2>&1 && python3 -c 'import aiosmtpd' >/dev/null 2>&1
}

if ! have_aiosmtpd; then
  if command -v python3 >/dev/null 2>&1 \
    && python3 -m pip install --quiet aiosmtpd >/dev/null 2>&1 \
    && have_aiosmtpd; then
    echo "installed aiosmtpd with pip" >&2
  else
    # No pip, or an externally managed Python (PEP 668): use Debian's package.
    apt_install python3-aiosmtpd
  fi
fi

if ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi

if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi
npm ci --prefix tests/browser --silent --no-audit --no-fund

# s3s-fs: the S3-compatible server the storage tests run (it checks SigV4,
# presigned URLs included). Newer releases need a newer rustc than ours;
# the install compiles it, about 3 minutes on 2 cores.
have_s3s_fs() {
  command -v s3s-fs >/dev/null 2>&1 || [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" ]
}

if ! have_s3s_fs; then
  echo "installing s3s-fs (about 3 minutes) ..." >&2
  cargo install s3s-fs --version 0.14.1 --locked --features binary --quiet
fi
