//! Runs one ffmpeg pass: progress from `-progress pipe:1` (its
//! `out_time_us`, as a fraction of the planned length), stderr kept for the
//! reason of a failure, and a kill on cancellation.

use std::ffi::OsString;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
pub enum RunError {
    /// Stopped on purpose (canceled, timed out, lease lost).
    Canceled,
    /// ffmpeg could not start, or exited with an error: its last words.
    Failed(String),
}

/// The arguments every [`run`] pass starts with: no banner, no prompt,
/// progress on stdout (what `run` reads). A pass that writes a file
/// overwrites it and logs warnings only; a measuring pass (`writes_file`
/// false) keeps the default log level, where filters print what they measured.
pub fn progress_args(writes_file: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["-hide_banner", "-nostdin", "-progress", "pipe:1", "-nostats"]
        .map(OsString::from)
        .into();
    if writes_file {
        args.extend(["-y", "-loglevel", "warning"].map(OsString::from));
    }
    args
}

/// How much of stderr is kept for an error message.
const STDERR_TAIL: usize = 4000;

/// Runs `command` (its args must include `-progress pipe:1 -nostats`),
/// reporting `from + span × done` on `progress`; returns ffmpeg's stderr.
pub async fn run(
    mut command: Command,
    total_us: i64,
    progress: &watch::Sender<f64>,
    (from, span): (f64, f64),
    cancel: &CancellationToken,
) -> Result<String, RunError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    die_with_parent(&mut command);
    let program = command.as_std().get_program().to_string_lossy().into_owned();
    let mut child = command
        .spawn()
        .map_err(|e| RunError::Failed(format!("{program} could not start: {e}")))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    // Read stderr alongside: a full pipe would stall ffmpeg.
    let said = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(stdout).lines();
    let reading = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(us) = line
                .strip_prefix("out_time_us=")
                .and_then(|v| v.trim().parse::<i64>().ok())
                && total_us > 0
            {
                let done = (us as f64 / total_us as f64).clamp(0.0, 1.0);
                progress.send_replace(from + span * done);
            }
        }
    };
    tokio::select! {
        () = reading => {}
        () = cancel.cancelled() => {
            let _ = child.kill().await;
            return Err(RunError::Canceled);
        }
    }
    let status = tokio::select! {
        status = child.wait() => status.map_err(|e| RunError::Failed(format!("waiting for {program}: {e}")))?,
        () = cancel.cancelled() => {
            let _ = child.kill().await;
            return Err(RunError::Canceled);
        }
    };
    let stderr = said.await.unwrap_or_default();
    if !status.success() {
        return Err(RunError::Failed(format!(
            "{program} failed ({status}): {}",
            tail(&stderr, STDERR_TAIL)
        )));
    }
    progress.send_replace(from + span);
    Ok(stderr)
}

/// A worker killed outright (SIGKILL, a lost node) runs no destructor:
/// its ffmpeg must not live on, writing into a folder the next attempt
/// sweeps. Linux delivers SIGKILL to the child when its parent thread ends.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    // SAFETY: `prctl` is async-signal-safe and touches only the child, between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}

/// The last `max` bytes of `text`, on a character boundary, trimmed.
pub fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].trim()
}
