//! Signalling and stopping the server processes the tests start: `kill` does it without unsafe
//! code; a stop is SIGTERM, up to five seconds' grace, then SIGKILL.

use std::io;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Who receives a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The child process alone.
    Process,
    /// The child's whole process group (servers that fork workers, e.g. NSD).
    Group,
}

/// Sends `signal` (`"TERM"`, `"HUP"`, ...) to `child` or its process group.
pub fn signal(child: &Child, target: Target, signal: &str) -> io::Result<()> {
    let pid = match target {
        Target::Process => child.id().to_string(),
        Target::Group => format!("-{}", child.id()),
    };
    let status = Command::new("kill")
        .args([&format!("-{signal}"), "--", &pid])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "kill -{signal} {pid} failed: {status}"
        )))
    }
}

/// Stops `child` (and with [`Target::Group`] whatever of its group outlived it) and reaps it.
pub fn stop(child: &mut Child, target: Target) {
    if let Ok(None) = child.try_wait() {
        let _ = signal(child, target, "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
    }
    if target == Target::Group {
        // Workers of the group that outlived the main process.
        let _ = signal(child, target, "KILL");
    }
    let _ = child.kill();
    let _ = child.wait();
}
