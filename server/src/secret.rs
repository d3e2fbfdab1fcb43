//! Types for secret material (zeroized on drop, redacted in `Debug`,
//! compared in constant time, never `Serialize`d by accident): shared with
//! the CLI and the agent, they live in `arca_client::sensitive`.

pub use arca_client::sensitive::*;
