//! Columnized text like the `columnize` package behind the Go CLI's tables:
//! cells are trimmed, an empty cell prints `n/a`, columns are padded to
//! their widest cell and glued with four spaces, and the last cell of a row
//! is never padded.

const GLUE: &str = "    ";

/// Rows as aligned columns, without a trailing newline.
pub(crate) fn columns(rows: &[Vec<String>]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    let t = c.trim();
                    if t.is_empty() {
                        "n/a".to_string()
                    } else {
                        t.to_string()
                    }
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            let w = c.chars().count();
            match widths.get_mut(i) {
                Some(cur) => *cur = (*cur).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut lines = Vec::with_capacity(cells.len());
    for row in &cells {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            line.push_str(c);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(c.chars().count());
                line.push_str(&" ".repeat(pad));
                line.push_str(GLUE);
            }
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// A table: the header row, a row of dashes under it, then `rows`.
pub(crate) fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut all = Vec::with_capacity(rows.len() + 2);
    all.push(header.iter().map(|h| (*h).to_string()).collect());
    all.push(header.iter().map(|h| "-".repeat(h.trim().len())).collect());
    all.extend(rows);
    columns(&all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_columnize() {
        let t = table(
            &["Key", "Value"],
            vec![
                vec!["Seal Type".into(), "shamir".into()],
                vec!["entity_id".into(), "".into()],
            ],
        );
        assert_eq!(
            t,
            "Key          Value\n---          -----\nSeal Type    shamir\nentity_id    n/a"
        );
    }

    #[test]
    fn multi_line_values_keep_their_lines() {
        let t = table(
            &["Key", "Value"],
            vec![vec!["policy".into(), "a {\n  b\n}\n".into()]],
        );
        assert_eq!(t, "Key       Value\n---       -----\npolicy    a {\n  b\n}");
    }

    #[test]
    fn headerless_columns() {
        assert_eq!(
            columns(&[
                vec!["Key Term".into(), "3".into()],
                vec!["Encryption Count".into(), "288".into()],
            ]),
            "Key Term            3\nEncryption Count    288"
        );
    }
}
