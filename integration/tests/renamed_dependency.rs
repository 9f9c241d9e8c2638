//! `#[graceful_main(crate = "…")]` in a crate that knows the facade only under
//! another name. Cargo refuses the same package twice under two names in one
//! manifest, so the program is a project of its own, written to the target
//! directory and built with cargo, as a user's would be.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Spawn, SIGTERM};

/// The facade's root, the workspace's.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration/ is in the workspace")
        .to_path_buf()
}

/// Writes the project under `target/renamed-dependency/` and builds it; the
/// path of its program. A target directory of its own keeps its build apart
/// from the outer one.
fn build() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test binary");
    // target/<profile>/deps/<test binary>
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary is in target/<profile>/deps");
    let dir = target.join("renamed-dependency");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = format!(
        "[package]\n\
         name = \"renamed-dependency\"\n\
         version = \"0.0.0\"\n\
         edition = \"2021\"\n\
         publish = false\n\
         \n\
         [dependencies]\n\
         my_cleanup = {{ package = \"graceful-cleanup\", path = {:?} }}\n\
         \n\
         [workspace]\n",
        workspace().display().to_string()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        include_str!("../fixtures/renamed_dependency/main.rs"),
    )
    .unwrap();
    // The workspace's versions of the dependencies, already downloaded.
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let output = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .expect("cannot run cargo");
    assert!(
        output.status.success(),
        "the renamed-dependency project does not build ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    dir.join("target/debug/renamed-dependency")
}

#[test]
fn a_renamed_dependency_builds_and_shuts_down_gracefully() {
    let mut running = Spawn::program(build(), "renamed-dependency").start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_code(128 + SIGTERM)
        .assert_once_in_order(&["guard", "finalizer"]);
}
