//! A PostgreSQL cluster of one test's own, in a temporary directory, that
//! the test can stop and start again (a database outage) without touching
//! the shared server the other tests use. Needs the server binaries
//! (Debian's `postgresql`, which tests/run.sh installs).

use std::path::PathBuf;
use std::process::Stdio;

use tempfile::TempDir;
use tokio::process::Command;

pub struct PgCluster {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    /// initdb refuses to run as root: as root, everything runs as `postgres`.
    as_postgres: bool,
}

/// The newest installed PostgreSQL's binaries, if any.
fn binaries() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent().and_then(|version| version.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0)
    });
    found.pop()
}

impl PgCluster {
    /// A new cluster, started; `None` when PostgreSQL's binaries are not
    /// installed (and CI is not set: under CI their absence fails).
    pub async fn start() -> Option<PgCluster> {
        let Some(bin) = binaries() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs PostgreSQL's server binaries (tests/run.sh installs them)"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("a directory for the cluster");
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown").arg("postgres").arg(dir.path())).await;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster = PgCluster { dir, bin, port, as_postgres };
        let data = cluster.data();
        run(cluster.command("initdb").args(["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]))
            .await;
        cluster.resume().await;
        Some(cluster)
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub async fn stop(&self) {
        run(self.command("pg_ctl").args(["-D", &self.data(), "-m", "fast", "-w", "stop"])).await;
    }

    /// Starts the server again on the same port.
    pub async fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        run(self.command("pg_ctl").args(["-D", &self.data(), "-l", &log, "-w", "-t", "60", "-o", &options, "start"]))
            .await;
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn command(&self, program: &str) -> Command {
        Command::from(self.std_command(program))
    }

    fn std_command(&self, program: &str) -> std::process::Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            std::process::Command::new(path)
        };
        command.stdin(Stdio::null()).stdout(Stdio::null());
        command
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let mut stop = self.std_command("pg_ctl");
        let _ = stop.args(["-D", &self.data(), "-m", "immediate", "stop"]).stderr(Stdio::null()).status();
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|meta| std::os::unix::fs::MetadataExt::uid(&meta) == 0).unwrap_or(false)
}

async fn run(command: &mut Command) {
    let output = command.stderr(Stdio::piped()).output().await.expect("running a PostgreSQL tool");
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}
