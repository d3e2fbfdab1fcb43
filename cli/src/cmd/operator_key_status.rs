//! `arca operator key-status`: the active barrier key term, its install
//! time and how many encryptions it has done. Reading and printing it
//! is shared with `operator rotate`.

use arca_client::{Client, KeyStatus};

use super::{Ctx, Spec};
use crate::error::{Context, Result};
use crate::output::Format;
use crate::output::table::columns;

pub(crate) const SPEC: Spec = Spec {
    name: "operator key-status",
    synopsis: "Provides information about the active encryption key",
    help: "Usage: arca operator key-status [options]\n\n  \
           Provides information about the active encryption key. Specifically, the\n  \
           current key term and the key installation time.\n\n  \
           Get the key status:\n\n      \
           $ arca operator key-status",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(0, Some(0))?;
    let client = ctx.client()?;
    output_key_status(ctx, &client, None).await
}

/// Reads the key status and prints it; in table format, under `heading`
/// and a blank line if given (`operator rotate`'s success line).
pub(crate) async fn output_key_status(
    ctx: &mut Ctx<'_>,
    client: &Client,
    heading: Option<&str>,
) -> Result<()> {
    let status = client
        .key_status()
        .await
        .context("Error reading key status")?;
    match ctx.format {
        Format::Json => ctx.output_json(&status),
        Format::Table => {
            if let Some(heading) = heading {
                ctx.out(heading);
                ctx.out("");
            }
            ctx.out(&key_status_table(&status));
        }
    }
    Ok(())
}

/// `Key Term`, `Install Time` (Go's RFC 822 in UTC), `Encryption Count`.
pub(crate) fn key_status_table(s: &KeyStatus) -> String {
    columns(&[
        vec!["Key Term".into(), s.term.to_string()],
        vec!["Install Time".into(), rfc822(&s.install_time)],
        vec!["Encryption Count".into(), s.encryptions.to_string()],
    ])
}

/// An RFC 3339 UTC time as Go's `time.RFC822` (`23 Nov 26 19:23 UTC`);
/// anything else is printed as given.
fn rfc822(t: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parse = || -> Option<String> {
        if !t.ends_with('Z') {
            return None;
        }
        let (date, time) = t.split_once('T')?;
        let mut d = date.split('-');
        let year = d.next()?;
        let month: usize = d.next()?.parse().ok()?;
        let day = d.next()?;
        let hm = time.get(..5)?;
        let month = MONTHS.get(month.checked_sub(1)?)?;
        Some(format!("{day} {month} {} {hm} UTC", year.get(2..)?))
    };
    parse().unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_bao() {
        let s = KeyStatus {
            term: 3,
            install_time: "2026-11-23T19:23:24.417854912Z".into(),
            encryptions: 288,
        };
        assert_eq!(
            key_status_table(&s),
            "Key Term            3\nInstall Time        23 Nov 26 19:23 UTC\nEncryption Count    288"
        );
        assert_eq!(rfc822("garbage"), "garbage");
    }
}
