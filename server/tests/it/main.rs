//! Integration tests: one binary for the crate (STYLE.md rule 9). Servers
//! run in-process on 127.0.0.1:0; wire behaviour is checked with a real
//! HTTP client and with the real `bao` CLI.

// Test helpers fail the test by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod audit;
mod auth_approle;
mod auth_jwt;
mod auth_kubernetes;
mod auth_userpass;
mod bao_cli;
mod database;
mod database_mariadb;
mod database_redis;
mod dynamic_bao;
mod events;
mod hardening;
mod http_api;
mod kv_bao;
mod leases;
mod mounts;
mod persistence;
mod policies;
mod quotas;
mod rabbitmq;
mod security_review;
mod tls;
mod tokens;
mod wrapping;
