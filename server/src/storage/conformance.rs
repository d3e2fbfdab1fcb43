//! One conformance suite every storage backend passes (Vault's
//! `sdk/physical/testing.go` in spirit).

use super::{Backend, Op};

pub async fn run(b: &dyn Backend) {
    // Empty store.
    assert_eq!(b.get("foo").await.unwrap(), None);
    assert!(b.list("").await.unwrap().is_empty());
    b.delete("foo").await.unwrap();

    // Put, get, overwrite.
    b.put("foo", b"bar".to_vec()).await.unwrap();
    assert_eq!(b.get("foo").await.unwrap(), Some(b"bar".to_vec()));
    b.put("foo", b"baz".to_vec()).await.unwrap();
    assert_eq!(b.get("foo").await.unwrap(), Some(b"baz".to_vec()));

    // Nested listing: folders with trailing slash, sorted, no duplicates.
    b.put("foo/bar", b"1".to_vec()).await.unwrap();
    b.put("foo/baz/qux", b"2".to_vec()).await.unwrap();
    b.put("foo/baz/quux", b"3".to_vec()).await.unwrap();
    b.put("fooz", b"4".to_vec()).await.unwrap();
    assert_eq!(
        b.list("").await.unwrap(),
        vec!["foo".to_string(), "foo/".into(), "fooz".into()]
    );
    assert_eq!(
        b.list("foo/").await.unwrap(),
        vec!["bar".to_string(), "baz/".into()]
    );
    assert_eq!(
        b.list("foo/baz/").await.unwrap(),
        vec!["quux".to_string(), "qux".into()]
    );
    assert!(b.list("nope/").await.unwrap().is_empty());

    // Keys under a prefix at any depth; prefix delete drops them all.
    let mut under = b.keys_under("foo/").await.unwrap();
    under.sort();
    assert_eq!(under, vec!["foo/bar", "foo/baz/quux", "foo/baz/qux"]);
    // Entries under a prefix, in key order, a page at a time.
    let page = b.entries("foo/", None, 2).await.unwrap();
    let keys: Vec<&str> = page.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, vec!["foo/bar", "foo/baz/quux"]);
    let rest = b.entries("foo/", Some("foo/baz/quux"), 2).await.unwrap();
    let keys: Vec<&str> = rest.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, vec!["foo/baz/qux"]);
    assert!(
        b.entries("foo/", Some("foo/baz/qux"), 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(b.entries("nope/", None, 10).await.unwrap().is_empty());
    for (k, v) in page.iter().chain(&rest) {
        assert_eq!(b.get(k).await.unwrap().as_ref(), Some(v), "{k}");
    }
    b.delete_prefix("foo/").await.unwrap();
    assert!(b.list("foo/").await.unwrap().is_empty());
    assert_eq!(b.get("foo").await.unwrap(), Some(b"baz".to_vec()));
    assert_eq!(b.get("fooz").await.unwrap(), Some(b"4".to_vec()));

    // Batches apply together.
    b.write(vec![
        Op::Put("x/1".into(), b"a".to_vec()),
        Op::Put("x/2".into(), b"b".to_vec()),
        Op::Delete("fooz".into()),
    ])
    .await
    .unwrap();
    assert_eq!(b.list("x/").await.unwrap(), vec!["1", "2"]);
    assert_eq!(b.get("fooz").await.unwrap(), None);

    // Delete.
    b.delete("foo").await.unwrap();
    assert_eq!(b.get("foo").await.unwrap(), None);

    // Binary values round-trip.
    let bin: Vec<u8> = (0..=255).collect();
    b.put("bin", bin.clone()).await.unwrap();
    assert_eq!(b.get("bin").await.unwrap(), Some(bin));
}
