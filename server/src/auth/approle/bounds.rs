//! CIDR bounds as approle checks them: `secret_id_bound_cidrs` and a
//! secret-id's `cidr_list` / `token_bound_cidrs` must be `addr/prefix`
//! blocks (Vault parses them with Go's `net.ParseCIDR`, which refuses a
//! bare address), kept as the client wrote them; and a secret-id's blocks
//! must lie inside the role's.

use std::net::IpAddr;

use crate::cidr::Cidr;

/// `addr/prefix`, or None when it is not such a block.
fn block(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = s.trim().split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= max)?;
    Some((addr, prefix))
}

/// Trims the blocks and checks each is `addr/prefix`; the error names the
/// first that is not.
pub fn validate(blocks: Vec<String>) -> Result<Vec<String>, String> {
    blocks
        .into_iter()
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
        .map(|b| match block(&b) {
            Some(_) => Ok(b),
            None => Err(format!("invalid CIDR address: {b}")),
        })
        .collect()
}

/// A role block as a (network, prefix) pair; a bare address (role
/// `token_bound_cidrs` are stored that way) is a single-address block.
fn role_block(s: &str) -> Option<(IpAddr, u8)> {
    if s.contains('/') {
        return block(s);
    }
    let addr: IpAddr = s.trim().parse().ok()?;
    Some((addr, if addr.is_ipv4() { 32 } else { 128 }))
}

/// Whether every block in `inner` lies inside some block of `outer` (no
/// `outer` blocks: no bound, anything passes).
pub fn subset(outer: &[String], inner: &[String]) -> bool {
    if outer.is_empty() {
        return true;
    }
    let outer: Vec<(IpAddr, u8)> = outer.iter().filter_map(|o| role_block(o)).collect();
    inner.iter().all(|i| {
        let Some((addr, prefix)) = block(i) else {
            return false;
        };
        outer.iter().any(|(net, p)| {
            let Ok(cidr) = format!("{net}/{p}").parse::<Cidr>() else {
                return false;
            };
            // Same family is checked by `contains`; a shorter or equal
            // prefix holding the inner network holds all of the block.
            *p <= prefix && cidr.contains(addr) && net.is_ipv4() == addr.is_ipv4()
        })
    })
}

/// A list as Go's `%q` prints a `[]string`: `["a" "b"]`; bare addresses
/// get their full prefix, as Vault shows role blocks in this message.
pub fn go_list(blocks: &[String], full_prefix: bool) -> String {
    let items: Vec<String> = blocks
        .iter()
        .map(|b| {
            let b = match role_block(b) {
                Some((addr, p)) if full_prefix && !b.contains('/') => format!("{addr}/{p}"),
                _ => b.clone(),
            };
            format!("{b:?}")
        })
        .collect();
    format!("[{}]", items.join(" "))
}

/// The message Vault gives when a secret-id's blocks are not inside the
/// role's.
pub fn subset_error(role: &[String], secret: &[String]) -> String {
    format!(
        "failed to verify subset relationship between CIDR blocks on the role {} and CIDR blocks on the secret ID {}",
        go_list(role, true),
        go_list(secret, false)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn blocks_must_have_a_prefix() {
        assert_eq!(
            validate(v(&[" 10.0.0.0/8", "::1/128", ""])).unwrap(),
            v(&["10.0.0.0/8", "::1/128"])
        );
        for bad in ["127.0.0.1", "10.0.0.0/33", "bad", "10.0.0/8", "::1/129"] {
            let e = validate(v(&[bad])).unwrap_err();
            assert_eq!(e, format!("invalid CIDR address: {bad}"));
        }
    }

    #[test]
    fn subsets() {
        let role = v(&["10.0.0.0/8", "192.168.1.0/24"]);
        assert!(subset(&role, &v(&["10.1.0.0/16", "192.168.1.128/25"])));
        assert!(subset(&role, &v(&["10.0.0.0/8"])));
        assert!(!subset(&role, &v(&["11.0.0.0/8"])));
        assert!(!subset(&role, &v(&["0.0.0.0/0"])));
        assert!(!subset(&role, &v(&["10.1.0.0/16", "172.16.0.0/12"])));
        assert!(subset(&[], &v(&["1.2.3.4/32"])));
        assert!(subset(&role, &[]));
        // Bare role addresses are single-address blocks.
        assert!(subset(&v(&["127.0.0.1"]), &v(&["127.0.0.1/32"])));
        assert!(!subset(&v(&["127.0.0.1"]), &v(&["127.0.0.0/8"])));
        assert!(!subset(&v(&["::/0"]), &v(&["10.0.0.0/8"])));
    }

    #[test]
    fn messages_read_like_vault() {
        assert_eq!(
            subset_error(&v(&["10.0.0.0/8", "127.0.0.1"]), &v(&["11.0.0.0/8"])),
            "failed to verify subset relationship between CIDR blocks on the role \
             [\"10.0.0.0/8\" \"127.0.0.1/32\"] and CIDR blocks on the secret ID [\"11.0.0.0/8\"]"
        );
    }
}
