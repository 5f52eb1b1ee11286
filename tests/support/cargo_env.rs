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
