//! Fuzz targets, on stable Rust, for everything that parses network or
//! file input: HCL policies, the server config file, request bodies and
//! their fields, Go durations, unseal shares, JWTs and JWKS (targets.rs).
//!
//! Nightly (and with it libFuzzer's coverage feedback) is not available
//! here, so this is a mutational fuzzer without feedback: each input is a
//! seed of the target's corpus (valid inputs of every shape the parser
//! takes) with one to eight random edits (fewer more often) (bit flips, bytes, tokens of the
//! target's dictionary inserted, ranges deleted, duplicated or spliced
//! from another seed, truncation), or plain random bytes. A target must
//! not panic on anything, and checks its own properties (a duration
//! formats and parses back, a parsed policy compiles and answers).
//!
//! `cargo test` runs every target for `ARCA_FUZZ_ITERATIONS` inputs
//! (default 100,000: a few seconds). The soak, with 10 million each:
//!
//! ```sh
//! ARCA_FUZZ_ITERATIONS=10000000 cargo test --release -p arca-server --lib fuzz:: -- --nocapture --test-threads=1
//! ```
//!
//! `ARCA_FUZZ_SEED` picks another stream of inputs. A failure prints the
//! target, iteration, seed and input (hex) to reproduce it.

mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Inputs per target unless `ARCA_FUZZ_ITERATIONS` says otherwise.
const DEFAULT_ITERATIONS: u64 = 100_000;
/// Longest input made (bytes).
const MAX_LEN: usize = 4096;

/// xorshift64*: fast, and enough for choosing edits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What a target is fed from.
pub struct Corpus<'a> {
    /// Valid inputs, one of each shape the parser takes.
    pub seeds: &'a [&'a [u8]],
    /// Tokens worth inserting (keywords, delimiters, odd numbers).
    pub dictionary: &'a [&'a [u8]],
}

/// One mutated input.
fn mutate(rng: &mut Rng, corpus: &Corpus<'_>, out: &mut Vec<u8>) {
    out.clear();
    if corpus.seeds.is_empty() || rng.below(16) == 0 {
        let len = rng.below(64);
        out.extend((0..len).map(|_| rng.next() as u8));
        return;
    }
    out.extend_from_slice(corpus.seeds[rng.below(corpus.seeds.len())]);
    // One edit half the time, two a quarter, ... up to eight: most inputs
    // stay close enough to valid to get past the first checks.
    let edits = 1 + rng.next().trailing_zeros().min(7);
    for _ in 0..edits {
        let len = out.len();
        let at = rng.below(len + 1);
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.next() as u8;
            }
            2 | 3 if !corpus.dictionary.is_empty() => {
                let token = corpus.dictionary[rng.below(corpus.dictionary.len())];
                out.splice(at..at, token.iter().copied());
            }
            4 if len > 0 => {
                let end = (at + 1 + rng.below(16)).min(len);
                out.drain(at.min(end)..end);
            }
            5 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(32)).min(len);
                let chunk: Vec<u8> = out[start..end].to_vec();
                out.splice(at..at, chunk);
            }
            6 => {
                let other = corpus.seeds[rng.below(corpus.seeds.len())];
                let start = rng.below(other.len() + 1);
                let end = (start + rng.below(64)).min(other.len());
                out.splice(at..at, other[start..end].iter().copied());
            }
            7 => out.truncate(at),
            _ => out.insert(at, rng.next() as u8),
        }
    }
    out.truncate(MAX_LEN);
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Feeds `target` mutated inputs; panics with what reproduces a failure.
/// The target answers whether its parser accepted the input (reported, so
/// a run that only ever exercised the error paths shows). Returns how many
/// inputs it ran.
pub fn run(name: &str, corpus: &Corpus<'_>, target: impl Fn(&[u8]) -> bool) -> u64 {
    let iterations = env_u64("ARCA_FUZZ_ITERATIONS").unwrap_or(DEFAULT_ITERATIONS);
    // A seed per target, so targets do not all draw the same stream.
    let base = env_u64("ARCA_FUZZ_SEED").unwrap_or(0x5eed);
    let seed = name.bytes().fold(base ^ 0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1;
    let mut rng = Rng(seed);
    // Every seed as it is, first.
    for s in corpus.seeds {
        target(s);
    }
    let mut input = Vec::with_capacity(MAX_LEN);
    let started = std::time::Instant::now();
    let mut accepted = 0u64;
    for i in 0..iterations {
        mutate(&mut rng, corpus, &mut input);
        match catch_unwind(AssertUnwindSafe(|| target(&input))) {
            Ok(ok) => accepted += u64::from(ok),
            Err(_) => panic!(
                "fuzz target {name} panicked at iteration {i} (ARCA_FUZZ_SEED={base}) on input {:?} (hex {})",
                String::from_utf8_lossy(&input),
                hex::encode(&input)
            ),
        }
    }
    println!(
        "fuzz {name}: {iterations} inputs ({:.1} % accepted by the parser) in {:.1}s, nothing found (ARCA_FUZZ_SEED={base})",
        accepted as f64 * 100.0 / iterations.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    iterations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_target_is_reported_with_its_input() {
        let corpus = Corpus {
            seeds: &[b"abc"],
            dictionary: &[b"!"],
        };
        let found = catch_unwind(|| {
            run("self-test", &corpus, |input| {
                assert!(!input.contains(&b'!'), "found it");
                true
            })
        });
        let message = found.expect_err("the harness missed a panic");
        let text = message
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(
            text.contains("fuzz target self-test panicked at iteration"),
            "{text}"
        );
        assert!(text.contains("hex "), "{text}");
    }

    #[test]
    fn mutations_stay_in_bounds_and_vary() {
        let corpus = Corpus {
            seeds: &[b"path \"a\" {}", b""],
            dictionary: &[b"{", b"}"],
        };
        let mut rng = Rng(1);
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            mutate(&mut rng, &corpus, &mut out);
            assert!(out.len() <= MAX_LEN);
            seen.insert(out.clone());
        }
        assert!(seen.len() > 1_000, "only {} distinct inputs", seen.len());
    }
}
