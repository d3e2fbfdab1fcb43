//! Durations the way Vault reads them: shared with the CLI and the agent,
//! they live in `arca_client::duration`.

pub use arca_client::duration::{DurationError, format_go, format_short, from_value, parse};
