//! Where a command reads and writes: the environment, stdin, stdout and
//! stderr. The process's own, or in-memory ones so that tests (and the
//! server's tests) can run commands in parallel without touching global
//! state such as `std::env`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

enum Sink {
    Stdout,
    Stderr,
    Memory(Vec<u8>),
}

impl Sink {
    fn write_all(&mut self, bytes: &[u8]) {
        // Output errors (a closed pipe) cannot be reported anywhere useful.
        let _ = match self {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            Sink::Stderr => std::io::stderr().lock().write_all(bytes),
            Sink::Memory(buf) => {
                buf.extend_from_slice(bytes);
                Ok(())
            }
        };
    }

    fn text(&self) -> String {
        match self {
            Sink::Memory(buf) => String::from_utf8_lossy(buf).into_owned(),
            Sink::Stdout | Sink::Stderr => String::new(),
        }
    }
}

enum Source {
    Stdin,
    Memory(std::io::Cursor<Vec<u8>>),
}

/// The environment and standard streams of one CLI invocation.
pub struct Io {
    env: BTreeMap<String, String>,
    stdin: Source,
    stdout: Sink,
    stderr: Sink,
    terminal: bool,
}

impl Io {
    /// The process's environment and standard streams.
    pub fn process() -> Self {
        Self {
            env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            stdin: Source::Stdin,
            stdout: Sink::Stdout,
            stderr: Sink::Stderr,
            terminal: std::io::stdout().is_terminal(),
        }
    }

    /// In-memory streams: `env` is the whole environment (set `HOME` to
    /// choose where the token helper file lives), `stdin` what reads see.
    /// Read the output back with [`Io::stdout_text`] and [`Io::stderr_text`].
    pub fn memory(env: &[(&str, &str)], stdin: &[u8]) -> Self {
        Self {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            stdin: Source::Memory(std::io::Cursor::new(stdin.to_vec())),
            stdout: Sink::Memory(Vec::new()),
            stderr: Sink::Memory(Vec::new()),
            terminal: false,
        }
    }

    /// What was written to stdout (in-memory streams only).
    pub fn stdout_text(&self) -> String {
        self.stdout.text()
    }

    /// What was written to stderr (in-memory streams only).
    pub fn stderr_text(&self) -> String {
        self.stderr.text()
    }

    /// An environment variable; empty values count as unset, like the Go CLI.
    pub(crate) fn var(&self, name: &str) -> Option<String> {
        self.env.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// The first of `names` that is set.
    pub(crate) fn first_var(&self, names: &[&str]) -> Option<(String, String)> {
        names
            .iter()
            .find_map(|n| self.var(n).map(|v| ((*n).to_string(), v)))
    }

    /// The home directory, where the token helper file lives.
    pub(crate) fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }

    /// Whether stdout is a terminal (raw `-field` output ends with a newline only then).
    pub(crate) fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// Reads all of stdin.
    pub(crate) fn read_stdin(&mut self) -> std::io::Result<String> {
        let mut s = String::new();
        match &mut self.stdin {
            Source::Stdin => std::io::stdin().lock().read_to_string(&mut s)?,
            Source::Memory(c) => c.read_to_string(&mut s)?,
        };
        Ok(s)
    }

    /// Writes a line to stdout.
    pub(crate) fn out(&mut self, line: &str) {
        self.stdout.write_all(format!("{line}\n").as_bytes());
    }

    /// Writes to stdout without a newline.
    pub(crate) fn out_raw(&mut self, text: &str) {
        self.stdout.write_all(text.as_bytes());
    }

    /// Writes a line to stderr.
    pub(crate) fn err(&mut self, line: &str) {
        self.stderr.write_all(format!("{line}\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_streams_capture_output() {
        let mut io = Io::memory(&[("HOME", "/tmp/h"), ("EMPTY", "")], b"in");
        io.out("a");
        io.out_raw("b");
        io.err("c");
        assert_eq!(io.stdout_text(), "a\nb");
        assert_eq!(io.stderr_text(), "c\n");
        assert_eq!(io.read_stdin().unwrap(), "in");
        assert_eq!(io.var("EMPTY"), None);
        assert_eq!(io.home(), Some(PathBuf::from("/tmp/h")));
        assert_eq!(
            io.first_var(&["NOPE", "HOME"]),
            Some(("HOME".to_string(), "/tmp/h".to_string()))
        );
    }
}
