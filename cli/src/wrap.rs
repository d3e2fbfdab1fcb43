//! Word wrapping with minimal raggedness, like the `kr/text` package the Go
//! CLI wraps its prose with (at 78 columns), so that wrapped messages break
//! at the same words.

/// Line width of the CLI's wrapped prose.
pub(crate) const MAX_LINE: usize = 78;

/// Penalty for a line longer than the limit (a single very long word).
const PENALTY: u64 = 100_000;

/// Wraps `text` at `limit` columns; newlines in the input count as spaces.
pub(crate) fn wrap(text: &str, limit: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let n = words.len();
    if n == 0 {
        return String::new();
    }
    // length[i][j]: width of words i..=j joined by single spaces.
    let len = |i: usize, j: usize| -> usize {
        words[i..=j]
            .iter()
            .map(|w| w.chars().count())
            .sum::<usize>()
            + (j - i)
    };
    let mut cost = vec![u64::MAX; n];
    let mut brk = vec![n; n];
    for i in (0..n).rev() {
        if len(i, n - 1) <= limit || i == n - 1 {
            cost[i] = 0;
            brk[i] = n;
            continue;
        }
        for j in i + 1..n {
            let width = len(i, j - 1);
            let gap = limit as i64 - width as i64;
            let mut c = (gap * gap) as u64 + cost[j];
            if width > limit {
                c += PENALTY;
            }
            if c < cost[i] {
                cost[i] = c;
                brk[i] = j;
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        lines.push(words[i..brk[i]].join(" "));
        i = brk[i];
    }
    lines.join("\n")
}

/// Wraps at [`MAX_LINE`] less `pad`, then indents every line by `pad` spaces.
pub(crate) fn wrap_padded(text: &str, pad: usize) -> String {
    wrap(text, MAX_LINE - pad)
        .lines()
        .map(|l| format!("{}{l}", " ".repeat(pad)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_like_the_go_cli() {
        let text = "Vault initialized with 5 key shares and a key threshold of 3. Please \
            securely distribute the key shares printed above. When the Vault is re-sealed, \
            restarted, or stopped, you must supply at least 3 of these keys to unseal it \
            before it can start servicing requests.";
        assert_eq!(
            wrap(text, MAX_LINE),
            "Vault initialized with 5 key shares and a key threshold of 3. Please securely\n\
             distribute the key shares printed above. When the Vault is re-sealed,\n\
             restarted, or stopped, you must supply at least 3 of these keys to unseal it\n\
             before it can start servicing requests."
        );
        let login = "Success! You are now authenticated. The token information displayed below \
            is already stored in the token helper. You do NOT need to run \"bao login\" again. \
            Future OpenBao requests will automatically use this token.";
        assert_eq!(
            wrap(login, MAX_LINE),
            "Success! You are now authenticated. The token information displayed below is\n\
             already stored in the token helper. You do NOT need to run \"bao login\" again.\n\
             Future OpenBao requests will automatically use this token."
        );
        assert_eq!(wrap_padded("* short", 2), "  * short");
        assert_eq!(wrap("", 10), "");
    }
}
