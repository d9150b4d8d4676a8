# Shared set-up for scripts/run and scripts/test: installs what is missing, idempotently, from
# package registries only (rustup, crates.io, Debian, npm). Sourced, not run.

step() { printf '\n==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_wasm_target() {
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    step "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

# The wasm-bindgen CLI must equal the wasm-bindgen in Cargo.lock exactly. Installed without
# --locked: its own lockfile names a crate version the registry here lacks.
ensure_wasm_bindgen() {
  local wanted have
  wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [ "$have" != "$wanted" ]; then
    step "installing wasm-bindgen-cli $wanted from crates.io (about 4 minutes, once)"
    cargo install wasm-bindgen-cli --version "$wanted"
  fi
}

ensure_chromium() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    step "installing Debian's chromium and chromium-driver"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}

# The other engines the cross-browser test runs (tests/e2e/browsers.test.mjs): Debian's Firefox
# ESR (driven over WebDriver BiDi by puppeteer-core) and WebKitGTK's WebKitWebDriver with its
# MiniBrowser, which needs a display: Xvfb.
ensure_other_browsers() {
  if ! command -v firefox-esr >/dev/null || ! command -v WebKitWebDriver >/dev/null || ! command -v Xvfb >/dev/null; then
    step "installing Debian's firefox-esr, webkit2gtk-driver and xvfb"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq firefox-esr webkit2gtk-driver xvfb >/dev/null
  fi
}

# npm packages: wasm-opt (binaryen) for the build, playwright-core and puppeteer-core (which
# downloads no browser of its own: PUPPETEER_SKIP_DOWNLOAD) for the browser tests.
# Debian's own binaryen writes broken wasm; the npm one is used instead.
ensure_node_packages() {
  local dir
  for dir in tools tests/e2e; do
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
      step "installing npm packages in $dir"
      (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
      touch "$dir/node_modules"
    fi
  done
  export PATH="$PWD/tools/node_modules/.bin:$PATH"
}

# Python packages for the interop tests, in a virtual environment of their own.
ensure_python_packages() {
  local venv=tests/interop/.venv
  if [ ! -x "$venv/bin/python" ] || [ tests/interop/requirements.txt -nt "$venv/bin/python" ]; then
    step "installing Python packages for the interop tests"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
    touch "$venv/bin/python"
  fi
}

# A real PostgreSQL from Debian's packages for the store tests: the distribution's cluster,
# started if it is not running, with a role `onsite` that may create databases (each test makes
# its own). Exports ONSITE_TEST_POSTGRES, the URL the tests connect to.
ensure_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    step "installing Debian's postgresql"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local version port
  version=$(ls /usr/lib/postgresql | sort -V | tail -1)
  if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
    as_root pg_createcluster "$version" main >/dev/null
  fi
  if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $4 }' | grep -q online; then
    step "starting PostgreSQL $version"
    as_root pg_ctlcluster "$version" main start
  fi
  port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $3 }')
  if ! as_root runuser -u postgres -- psql -p "$port" -qtAc "SELECT 1 FROM pg_roles WHERE rolname = 'onsite'" | grep -q 1; then
    as_root runuser -u postgres -- psql -p "$port" -qc "CREATE ROLE onsite LOGIN CREATEDB PASSWORD 'onsite'"
  fi
  export ONSITE_TEST_POSTGRES="postgres://onsite:onsite@127.0.0.1:$port/postgres?sslmode=disable"
}

# cargo-fuzz from crates.io, for the fuzz targets in fuzz/.
ensure_cargo_fuzz() {
  if ! cargo fuzz --version 2>/dev/null | grep -q "0.13.1"; then
    step "installing cargo-fuzz 0.13.1 from crates.io (about 2 minutes, once)"
    cargo install cargo-fuzz --version 0.13.1
  fi
}

# The remote-desktop evaluation (scripts/eval): Debian's Xvfb and x11vnc, and a virtual
# environment with python-xlib (X screen reads and XTest input), numpy and matplotlib.
ensure_eval_packages() {
  local venv=tests/eval/.venv
  if ! command -v Xvfb >/dev/null || ! command -v x11vnc >/dev/null; then
    step "installing Debian's xvfb and x11vnc"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb x11vnc >/dev/null
  fi
  if [ ! -x "$venv/bin/python" ] || [ tests/eval/requirements.txt -nt "$venv/bin/python" ]; then
    step "installing Python packages for the evaluation"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/eval/requirements.txt
    touch "$venv/bin/python"
  fi
}
