//! Builds onsite's web assets with no downloaded tools: cargo for wasm32, the exact-pinned
//! `wasm-bindgen` CLI from crates.io, and `wasm-opt` only when a working one is on PATH.
//!
//! Usage: `cargo xtask web [--out DIR] [--dev]`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};

/// The oldest wasm-opt trusted here: Debian's 108 writes wasm that breaks at load.
const MIN_WASM_OPT_VERSION: u32 = 116;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("web") => {
            let mut out = root().join("dist");
            let mut dev = false;
            let mut rest = args[1..].iter();
            while let Some(arg) = rest.next() {
                match arg.as_str() {
                    "--out" => out = PathBuf::from(rest.next().context("--out needs a directory")?),
                    "--dev" => dev = true,
                    other => bail!(
                        "unknown option {other:?}; usage: cargo xtask web [--out DIR] [--dev]"
                    ),
                }
            }
            web(&out, dev)
        }
        _ => bail!("usage: cargo xtask web [--out DIR] [--dev]"),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

fn run(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    let status = command.status().with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn web(out: &Path, dev: bool) -> Result<()> {
    let root = root();
    let profile = if dev { "dev" } else { "wasm-release" };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("xtask: building onsite-app and the standalone probe for wasm32 ({profile})");
    run(Command::new(&cargo).current_dir(&root).args([
        "build",
        "-p",
        "onsite-app",
        "-p",
        "onsite-probe",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        profile,
    ]))?;

    let wanted = locked_version(&root, "wasm-bindgen")?;
    let installed = tool_version("wasm-bindgen")?;
    if installed != wanted {
        bail!(
            "wasm-bindgen CLI is {installed} but Cargo.lock has {wanted}; run `cargo install wasm-bindgen-cli --version {wanted}` (without --locked)"
        );
    }
    let dir = if dev { "debug" } else { profile };
    // Cargo builds into `CARGO_TARGET_DIR` when it is set (relative to the workspace root, where
    // cargo runs here), and into `target/` otherwise.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), |dir| root.join(PathBuf::from(dir)));
    let built = target.join("wasm32-unknown-unknown").join(dir);
    let staging = target.join("web-staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot clear {}", staging.display()))?;
    }
    eprintln!("xtask: wasm-bindgen {installed}");
    // The app, and the standalone probe for host pages (with TypeScript declarations).
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-name", "app", "--out-dir"])
        .arg(&staging)
        .arg(built.join("onsite-app.wasm")))?;
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--out-name", "onsite_probe", "--out-dir"])
        .arg(staging.join("probe"))
        .arg(built.join("onsite_probe.wasm")))?;
    if !dev {
        optimise(&staging.join("app_bg.wasm"))?;
        optimise(&staging.join("probe/onsite_probe_bg.wasm"))?;
    }

    std::fs::create_dir_all(out.join("probe"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    copy_dir(&root.join("www"), out)?;
    copy_dir(&staging, out)?;
    for file in ["app_bg.wasm", "probe/onsite_probe_bg.wasm"] {
        let size = std::fs::metadata(out.join(file)).map(|m| m.len()).unwrap_or(0);
        eprintln!("xtask: {file}: {} KiB", size / 1024);
    }
    eprintln!("xtask: wrote {}", out.display());
    Ok(())
}

/// Runs wasm-opt -Oz when a working version is on PATH; otherwise leaves the wasm as it is.
fn optimise(wasm: &Path) -> Result<()> {
    let version = match Command::new("wasm-opt").arg("--version").output() {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
        _ => {
            eprintln!("xtask: no wasm-opt on PATH; skipping size optimisation");
            return Ok(());
        }
    };
    let number = version.split_whitespace().find_map(|word| word.parse::<u32>().ok()).unwrap_or(0);
    if number < MIN_WASM_OPT_VERSION {
        eprintln!("xtask: wasm-opt {number} is older than {MIN_WASM_OPT_VERSION} and known to write broken wasm; skipping");
        return Ok(());
    }
    let before = std::fs::metadata(wasm).map(|m| m.len()).unwrap_or(0);
    run(Command::new("wasm-opt")
        .arg("-Oz")
        .arg("--enable-bulk-memory")
        .arg("--enable-nontrapping-float-to-int")
        .arg("--enable-sign-ext")
        .arg("--enable-mutable-globals")
        .arg(wasm)
        .arg("-o")
        .arg(wasm))?;
    let after = std::fs::metadata(wasm).map(|m| m.len()).unwrap_or(0);
    eprintln!("xtask: wasm-opt {number}: {} KiB -> {} KiB", before / 1024, after / 1024);
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| {
                format!("cannot copy {} to {}", entry.path().display(), target.display())
            })?;
        }
    }
    Ok(())
}

/// The version of a package as Cargo.lock pins it.
fn locked_version(root: &Path, package: &str) -> Result<String> {
    let lock =
        std::fs::read_to_string(root.join("Cargo.lock")).context("cannot read Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{package}\"") {
            if let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(version.trim_end_matches('"').to_owned());
            }
        }
    }
    bail!("{package} is not in Cargo.lock")
}

/// The version a tool prints with `--version`, such as `wasm-bindgen 0.2.130`.
fn tool_version(tool: &str) -> Result<String> {
    let output = Command::new(tool).arg("--version").output().with_context(|| {
        format!("{tool} is not installed; scripts/test and scripts/run install it")
    })?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .nth(1)
        .map(str::to_owned)
        .with_context(|| format!("cannot read {tool}'s version from {text:?}"))
}
