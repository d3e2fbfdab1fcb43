//! `exec` mode: the agent runs the application itself, with the
//! `env_template` values in its environment, passes stdin/stdout/stderr
//! through, restarts it when those values change (stop signal, a grace
//! period, then SIGKILL; then start again), and exits with its exit code.

use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process};
use tokio::sync::oneshot;

/// A signal by its name as Vault's configs write it (`SIGTERM`, `TERM`,
/// `SIGHUP`, ...).
pub fn signal(name: &str) -> Option<Signal> {
    let n = name.trim().to_ascii_uppercase();
    Some(match n.strip_prefix("SIG").unwrap_or(&n) {
        "TERM" => Signal::TERM,
        "INT" => Signal::INT,
        "HUP" => Signal::HUP,
        "QUIT" => Signal::QUIT,
        "KILL" => Signal::KILL,
        "USR1" => Signal::USR1,
        "USR2" => Signal::USR2,
        _ => return None,
    })
}

/// A running application.
pub struct App {
    pid: Option<Pid>,
    exited: oneshot::Receiver<i32>,
}

impl App {
    /// Starts `argv` with the agent's environment plus `env`.
    pub fn start(argv: &[String], env: &[(String, String)]) -> Result<Self, String> {
        let (prog, args) = argv.split_first().ok_or("exec needs a command")?;
        let mut child = tokio::process::Command::new(prog)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .spawn()
            .map_err(|e| format!("starting {prog}: {e}"))?;
        let pid = child
            .id()
            .and_then(|p| Pid::from_raw(i32::try_from(p).ok()?));
        let (tx, exited) = oneshot::channel();
        tokio::spawn(async move {
            let code = match child.wait().await {
                Ok(s) => s.code().unwrap_or_else(|| {
                    use std::os::unix::process::ExitStatusExt;
                    // Killed by a signal: the shell's convention.
                    128 + s.signal().unwrap_or(0)
                }),
                Err(_) => 1,
            };
            let _ = tx.send(code);
        });
        Ok(Self { pid, exited })
    }

    /// Resolves with the exit code when the application exits on its own.
    pub async fn exited(&mut self) -> i32 {
        (&mut self.exited).await.unwrap_or(1)
    }

    /// Sends `sig`, waits `grace` for it to exit, then kills it.
    pub async fn stop(mut self, sig: Signal, grace: Duration) -> i32 {
        if let Some(pid) = self.pid {
            let _ = kill_process(pid, sig);
            if let Ok(code) = tokio::time::timeout(grace, &mut self.exited).await {
                return code.unwrap_or(1);
            }
            let _ = kill_process(pid, Signal::KILL);
        }
        self.exited.await.unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(signal("SIGTERM"), Some(Signal::TERM));
        assert_eq!(signal("hup"), Some(Signal::HUP));
        assert_eq!(signal("SIGNOPE"), None);
    }

    #[tokio::test]
    async fn runs_with_the_environment_and_reports_the_exit_code() {
        let mut app = App::start(
            &[
                "/bin/sh".into(),
                "-c".into(),
                "test \"$SECRET\" = s3cret && exit 7".into(),
            ],
            &[("SECRET".into(), "s3cret".into())],
        )
        .unwrap();
        assert_eq!(app.exited().await, 7);
        // Stopped with a signal it ignores: killed after the grace period.
        let app = App::start(
            &[
                "/bin/sh".into(),
                "-c".into(),
                "trap '' TERM; sleep 30".into(),
            ],
            &[],
        )
        .unwrap();
        // Time for the shell to set its trap.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let code = app.stop(Signal::TERM, Duration::from_millis(300)).await;
        assert_eq!(code, 128 + 9);
    }
}
