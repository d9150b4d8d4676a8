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

# npm packages: wasm-opt (binaryen) for the build, playwright-core for the browser tests.
# Debian's own binaryen writes broken wasm; the npm one is used instead.
ensure_node_packages() {
  local dir
  for dir in tools tests/e2e; do
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
      step "installing npm packages in $dir"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
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
