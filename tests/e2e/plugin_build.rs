//! Builds the example and hostile plugins in `plugins/` for wasm32-wasip2, once per test run,
//! and hands out their components and manifests.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn built() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        install_target();
        let plugins = root().join("plugins");
        let target = plugins.join("target");
        let out = Command::new(env!("CARGO"))
            .args(["build", "--locked", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(plugins.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "building the plugins failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("wasm32-wasip2").join("release")
    })
}

/// Adds the wasm32-wasip2 target through rustup when it is missing, so that the README's test
/// command works on a fresh machine.
fn install_target() {
    let Ok(list) = Command::new("rustup").args(["target", "list", "--installed"]).output() else { return };
    if !String::from_utf8_lossy(&list.stdout).lines().any(|l| l.trim() == "wasm32-wasip2") {
        let _ = Command::new("rustup").args(["target", "add", "wasm32-wasip2"]).status();
    }
}

/// The component of a plugin crate, e.g. `credit-guard` or `hostile-spin`.
pub fn component(name: &str) -> Vec<u8> {
    let file = built().join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The manifest of a plugin folder, e.g. `credit-guard` or `hostile/spin`.
pub fn manifest(folder: &str) -> serde_json::Value {
    let file = root().join("plugins").join(folder).join("manifest.json");
    serde_json::from_slice(&std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())))
        .expect("manifest is JSON")
}
