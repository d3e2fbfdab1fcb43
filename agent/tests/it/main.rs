//! arca-agent's integration tests: one binary (STYLE.md rule 9). The
//! server is a real Arca in this process, on a loopback port.

// Test helpers fail the test by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod agent;
mod bao_agent;
mod exec;
mod pki;
mod postgres;
