//! PgBouncer in transaction mode on loopback for the tests that need one
//! (tests/store_pgbouncer.rs, tests/example_server_pgbouncer.rs; each includes this file with
//! `#[path]`, next to `support/own_servers.rs` as the crate's `own_servers` module): Debian's
//! `pgbouncer` started in a temp directory on a free port from 6433, killed on drop.
#![allow(dead_code)]

use std::fs::File;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use sqlx::postgres::PgConnectOptions;

use crate::own_servers::{self, Servers};

/// The variable naming the PostgreSQL server the PgBouncer tests put a bouncer in front of.
pub(crate) const URL_VAR: &str = "TESSERA_TEST_POSTGRES_URL";

/// The PostgreSQL URL to test through a bouncer, or `None` after saying why the test skips:
/// quietly without [`URL_VAR`] (as the adapter suites do), loudly without the `pgbouncer` binary.
pub(crate) fn url_or_skip() -> Option<String> {
    let url = match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("skipped: {URL_VAR} is not set");
            return None;
        }
    };
    if !own_servers::installed("pgbouncer") {
        eprintln!(
            "\n!!! SKIPPED: pgbouncer is not installed, so the PgBouncer tests did not run !!!\n"
        );
        return None;
    }
    Some(url)
}

/// Server connections per PgBouncer database entry (and user): fewer than a store's pool
/// holds, so that its connections really share them.
pub(crate) const POOL_SIZE: usize = 2;

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A `pgbouncer` process (the only one of `servers`) in a temp directory, with one database
/// entry per schema. Dropping `servers` kills it and removes the directory, so a failing
/// (panicking) test still cleans up.
pub(crate) struct Bouncer {
    /// Its loopback port.
    pub(crate) port: u16,
    /// The process and its directory.
    pub(crate) servers: Servers,
}

impl Bouncer {
    /// Starts PgBouncer in front of `server`, with the database entry `name` for each `(name,
    /// schema)` in `entries`: the test database, with `search_path` set to the schema on each
    /// server connection.
    pub(crate) fn start(server: &PgConnectOptions, entries: &[(String, String)]) -> Self {
        let port = own_servers::free_ports(6433, 1, 100, 1, own_servers::port_free)
            .expect("a free port from 6433");
        let mut servers = Servers::new("pgbouncer");
        let dir = servers.dir.clone();
        let database = server.get_database().unwrap_or(server.get_username());
        let mut ini = String::from("[databases]\n");
        for (name, schema) in entries {
            // The schema names are ours: [a-z0-9_] only.
            ini.push_str(&format!(
                "{name} = host={host} port={port} dbname={database} user={user} \
                 connect_query='SET search_path = {schema}'\n",
                host = server.get_host(),
                port = server.get_port(),
                user = server.get_username(),
            ));
        }
        ini.push_str(&format!(
            "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {dir}/users.txt\npool_mode = transaction\n\
             default_pool_size = {POOL_SIZE}\nmin_pool_size = 0\nreserve_pool_size = 0\n\
             max_client_conn = 1000\nignore_startup_parameters = extra_float_digits\n",
            dir = dir.display()
        ));
        std::fs::write(dir.join("pgbouncer.ini"), ini).expect("write the config");
        std::fs::write(
            dir.join("users.txt"),
            format!("\"{}\" \"\"\n", server.get_username()),
        )
        .expect("write the users");
        let log = File::create(dir.join("pgbouncer.log")).expect("the log file");
        let mut command = Command::new("pgbouncer");
        // PgBouncer refuses to run as root; it reads its files before switching user, and
        // writes its log to the stderr opened here.
        if running_as_root() {
            command.args(["-u", "nobody"]);
        }
        servers.spawn(command.arg(dir.join("pgbouncer.ini")), Stdio::from(log));
        let mut bouncer = Self { port, servers };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = bouncer.servers.children[0].try_wait() {
                panic!("pgbouncer exited ({status}):\n{}", bouncer.log());
            }
            assert!(
                start.elapsed() < StdDuration::from_secs(10),
                "pgbouncer is not listening after 10 s:\n{}",
                bouncer.log()
            );
            std::thread::sleep(StdDuration::from_millis(50));
        }
        bouncer
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.servers.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    pub(crate) fn url(&self, entry: &str, user: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{entry}", self.port)
    }
}
