//! Building an example from a test: the child `cargo build` must not inherit what cargo set
//! for the test process.

/// Removes the variables cargo sets for a test process from `build`: build scripts that watch
/// them (ring's watches `CARGO_MANIFEST_DIR`) would otherwise see a change and rebuild half the
/// dependency tree on every run.
pub(crate) fn strip_test_env(build: &mut std::process::Command) {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
            ]
            .contains(&&*name)
        {
            build.env_remove(&*name);
        }
    }
}

/// Builds the example `name` (a no-op when it is fresh) into the test's own target directory
/// and profile, with the features of the test (`http`, `axum` and whichever of `memory`,
/// `testkit`, `postgres`, `redis` it has), and returns the binary's path.
#[allow(dead_code)]
pub(crate) fn build_example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash> -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile directory")
        .to_path_buf();
    let target_dir = profile_dir.parent().expect("target directory");
    let mut features = vec!["http", "axum"];
    for (on, feature) in [
        (cfg!(feature = "memory"), "memory"),
        (cfg!(feature = "testkit"), "testkit"),
        (cfg!(feature = "postgres"), "postgres"),
        (cfg!(feature = "redis"), "redis"),
    ] {
        if on {
            features.push(feature);
        }
    }
    let mut build = std::process::Command::new(env!("CARGO"));
    build
        .args(["build", "--quiet", "--example", name, "--features"])
        .arg(features.join(","))
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    strip_test_env(&mut build);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    assert!(
        build.status().expect("cargo runs").success(),
        "building the example {name} failed"
    );
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}
