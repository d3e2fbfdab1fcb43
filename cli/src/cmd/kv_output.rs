//! The `kv` commands' table output, as the Go CLI prints it: a
//! `= Secret Path =` banner, `== Data ==` headers padded with equal signs
//! to the width of the table under them, `Key/Value` tables of maps, and
//! `-field` picked out of a map.

use arca_client::Secret;
use serde_json::{Map, Value};

use super::Ctx;
use crate::error::{Error, Result};
use crate::output::Format;
use crate::output::table::table;
use crate::output::value::cell;

/// The Go CLI's `padEqualSigns`: `header` centred in equal signs, at least
/// two on each side, rounded up to an even count.
pub(crate) fn pad_equal_signs(header: &str, total_len: usize) -> String {
    let mut signs = total_len as i64 - (header.len() as i64 + 2);
    if signs <= 0 {
        signs = 4;
    }
    if signs % 2 != 0 {
        signs += 1;
    }
    let side = "=".repeat((signs / 2) as usize);
    format!("{side} {header} {side}")
}

/// The Go CLI's `getHeaderForMap`: as wide as the `Key    Value` table of
/// `data` (longest key, four spaces, "Value").
pub(crate) fn header_for_map(header: &str, data: &Map<String, Value>) -> String {
    let max_key = data.keys().map(String::len).max().unwrap_or(0);
    pad_equal_signs(header, max_key + 4 + 5)
}

/// `Key/Value` rows of a map, sorted, TTL-like fields humanized; `None`
/// when the map is empty (the Go CLI then prints nothing).
pub(crate) fn map_table(data: &Map<String, Value>) -> Option<String> {
    if data.is_empty() {
        return None;
    }
    let mut keys: Vec<&String> = data.keys().collect();
    keys.sort();
    let rows = keys
        .into_iter()
        .map(|k| vec![k.clone(), cell(k, &data[k])])
        .collect();
    Some(table(&["Key", "Value"], rows))
}

impl Ctx<'_> {
    /// The banner over a path: title, the path, a blank line.
    pub(crate) fn kv_output_path(&mut self, path: &str, title: &str) {
        let banner = pad_equal_signs(title, path.len());
        self.out(&banner);
        self.out(path);
        self.out("");
    }

    /// The Go CLI's `OutputData` of a map in table format.
    pub(crate) fn kv_output_map(&mut self, data: &Map<String, Value>) {
        if let Some(t) = map_table(data) {
            self.out(&t);
        }
    }

    /// The header and table of a map (`== Data ==`, then the rows).
    pub(crate) fn kv_output_section(&mut self, header: &str, data: &Map<String, Value>) {
        let h = header_for_map(header, data);
        self.out(&h);
        self.kv_output_map(data);
    }

    /// What `kv put` and `kv patch` print of their write's answer: the
    /// success line when nothing came back, `-field`, a wrapped answer or
    /// JSON whole, else the secret path and the new version's metadata.
    pub(crate) fn kv_output_written(&mut self, path: &str, answer: Option<Secret>) -> Result<()> {
        let Some(secret) = answer else {
            self.success(&format!("Success! Data written to: {path}"));
            return Ok(());
        };
        if let Some(field) = self.field() {
            return self.print_field(&secret, &field);
        }
        if secret.wrap_info.as_ref().is_some_and(|w| w.ttl != 0) || self.format != Format::Table {
            self.output_secret(&secret);
            return Ok(());
        }
        self.kv_output_path(path, "Secret Path");
        let meta = secret.data.clone().unwrap_or_default();
        self.kv_output_section("Metadata", &meta);
        Ok(())
    }

    /// `-field` of a map (the `data` of a KV v2 secret): raw, without a
    /// newline unless stdout is a terminal.
    pub(crate) fn kv_print_map_field(
        &mut self,
        data: &Map<String, Value>,
        field: &str,
    ) -> Result<()> {
        let v = data
            .get(field)
            .filter(|v| !v.is_null())
            .ok_or_else(|| Error::NoField {
                field: field.to_string(),
                container: "map",
            })?;
        self.print_raw(v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn headers_like_the_go_cli() {
        assert_eq!(
            pad_equal_signs("Secret Path", "secret/data/cli".len()),
            "= Secret Path ="
        );
        let meta = json!({"created_time": 1, "custom_metadata": 2, "deletion_time": 3});
        assert_eq!(
            header_for_map("Metadata", meta.as_object().unwrap()),
            "======= Metadata ======="
        );
        let data = json!({"a": 1});
        assert_eq!(
            header_for_map("Data", data.as_object().unwrap()),
            "== Data =="
        );
        assert_eq!(header_for_map("Data", &Map::new()), "== Data ==");
        assert_eq!(
            pad_equal_signs("Metadata Path", "secret/metadata/cli".len()),
            "== Metadata Path =="
        );
        let v = json!({"created_time": 1, "deletion_time": 2, "destroyed": 3});
        assert_eq!(
            header_for_map("Version 1", v.as_object().unwrap()),
            "====== Version 1 ======"
        );
    }

    #[test]
    fn map_tables() {
        let m = json!({"b": "two", "a": 1, "ttl": 3600, "deletion_time": ""});
        assert_eq!(
            map_table(m.as_object().unwrap()).unwrap(),
            "Key              Value\n---              -----\na                1\nb                two\ndeletion_time    n/a\nttl              1h"
        );
        assert_eq!(map_table(&Map::new()), None);
    }
}
