//! The `mediation-server` binary run as its own process, as a town's IT
//! officer runs it: its path in the build tree, and a running server whose
//! standard output is read line by line (the `serving` line gives its
//! address; the set-up code and errors are read from the same lines).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// How long a server may take to start on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The server binary: `MEDIATION_SERVER_BINARY` when set (tests/run.sh
/// points it at the release build, the one a town installs), else the debug
/// build beside this test (`cargo build -p mediation-server` makes it).
pub fn server_binary() -> PathBuf {
    if let Some(binary) = std::env::var_os("MEDIATION_SERVER_BINARY") {
        return PathBuf::from(binary);
    }
    let test = std::env::current_exe().expect("the test's own path");
    // target/<profile>/deps/<test> -> target/<profile>/mediation-server
    let binary = test.parent().and_then(Path::parent).expect("the build directory").join("mediation-server");
    assert!(binary.exists(), "{} is missing: run `cargo build -p mediation-server` first", binary.display());
    binary
}

/// A server process and what it printed.
pub struct ServerProcess {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line so far, ANSI colours removed.
    pub printed: Vec<String>,
    /// `http://...` or `https://...` it serves on, once started.
    pub url: String,
}

impl ServerProcess {
    /// Starts `command` (stdout and stderr captured) and waits for its
    /// `serving` line.
    pub async fn start(command: Command) -> ServerProcess {
        let mut process = ServerProcess::spawn(command);
        let serving = process.wait_for_line(|line| line.contains("serving") && line.contains("url=")).await;
        let url = serving
            .split_whitespace()
            .find_map(|field| field.strip_prefix("url="))
            .expect("the serving line names its URL")
            .trim_end_matches('/')
            .to_owned();
        process.url = url;
        process
    }

    /// Starts `command` without waiting for anything.
    pub fn spawn(mut command: Command) -> ServerProcess {
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .env("NO_COLOR", "1");
        let mut child = command.spawn().expect("starting the server binary");
        let (sender, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        for output in [Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Send + Unpin>, Box::new(stderr)] {
            let sender = sender.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(output).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if sender.send(strip_ansi(&line)).is_err() {
                        return;
                    }
                }
            });
        }
        ServerProcess { child, lines, printed: Vec::new(), url: String::new() }
    }

    /// The next line (already printed or to come) for which `wanted` holds.
    pub async fn wait_for_line(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        if let Some(line) = self.printed.iter().find(|line| wanted(line)) {
            return line.clone();
        }
        let found = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = self.lines.recv().await {
                self.printed.push(line.clone());
                if wanted(&line) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("the server never printed the line awaited; it printed:\n{}", self.printed.join("\n")),
        }
    }

    /// Stops the process and waits until it is gone (its ports free).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    /// Waits for the process to exit by itself; its exit code and all it
    /// printed.
    pub async fn exit(mut self) -> (Option<i32>, String) {
        let status =
            tokio::time::timeout(START_TIMEOUT, self.child.wait()).await.expect("the server exits").expect("waiting");
        while let Some(line) = self.lines.recv().await {
            self.printed.push(line);
        }
        (status.code(), self.printed.join("\n"))
    }
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
