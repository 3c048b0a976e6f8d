//! The fuzz targets' drivers (`h323::harness`) in the normal test suite: the seeds (real
//! calls and a real RAS session) do real work, every input that once crashed a fuzz
//! target (`tests/data/fuzz/<target>/`) now runs through, and a bounded, deterministic
//! run of random mutations of the seeds never panics.
//!
//! The mutation run scales with `H323_FUZZ_ITERATIONS` (default 300 per seed) for a long
//! local run: `H323_FUZZ_ITERATIONS=20000 cargo test --release -p h323 --test all fuzz_harness::`.

use std::path::Path;

use h323::harness;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn iterations() -> usize {
    std::env::var("H323_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

/// One to four libFuzzer-like mutations: bit flips, random octets, truncation, an octet
/// inserted or removed, a slice of another seed spliced in, an interesting value.
fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let p = rng.below(b.len());
        match rng.below(7) {
            0 => {
                if let Some(x) = b.get_mut(p) {
                    *x ^= 1 << rng.below(8);
                }
            }
            1 => {
                if let Some(x) = b.get_mut(p) {
                    *x = rng.next() as u8;
                }
            }
            2 => b.truncate(rng.below(b.len() + 1)),
            3 => b.insert(p.min(b.len()), rng.next() as u8),
            4 => {
                if p < b.len() {
                    b.remove(p);
                }
            }
            5 => {
                let from = rng.below(other.len());
                let len = rng.below(other.len() - from.min(other.len()) + 1).min(64);
                let tail = b.split_off(p.min(b.len()));
                b.extend_from_slice(&other[from.min(other.len())..][..len]);
                b.extend_from_slice(&tail);
            }
            _ => {
                if let Some(x) = b.get_mut(p) {
                    *x = [0x00, 0x01, 0x7F, 0x80, 0xFF][rng.below(5)];
                }
            }
        }
    }
    b
}

fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().is_file() && e.file_name() != "README.md")
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read(e.path()).expect("readable"))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn call_seeds_replay_whole_calls() {
    let seeds = harness::call_seeds();
    assert_eq!(seeds.len(), 6);
    for (name, input) in &seeds {
        // The callee: Setup ... Released; the caller: Proceeding/Alerting/Connected ...
        let events = harness::call_endpoint(input);
        assert!(events >= 3, "{name}: only {events} events");
    }
}

#[test]
fn ras_seeds_replay_a_session() {
    for (name, input) in harness::ras_seeds() {
        assert!(input.len() > 200, "{name}: {} octets", input.len());
        let events = harness::ras_endpoints(&input);
        assert!(events >= 8, "{name}: only {events} events");
    }
}

#[test]
fn inputs_that_crashed_the_fuzzers_run_through() {
    for (name, input) in regressions("call_endpoint") {
        eprintln!("call_endpoint {name}");
        harness::call_endpoint(&input);
    }
    for (name, input) in regressions("ras_endpoints") {
        eprintln!("ras_endpoints {name}");
        harness::ras_endpoints(&input);
    }
}

#[test]
fn mutated_calls_never_panic() {
    let seeds = harness::call_seeds();
    let mut rng = Rng(0xCA11_5EED_0000_0005);
    let mut events = 0;
    for i in 0..iterations() * seeds.len() {
        let seed = &seeds[i % seeds.len()].1;
        let other = &seeds[rng.below(seeds.len())].1;
        let input = mutate(&mut rng, seed, other);
        events += harness::call_endpoint(&input);
    }
    assert!(
        events > iterations(),
        "the endpoints did real work ({events} events)"
    );
}

#[test]
fn mutated_ras_sessions_never_panic() {
    let seeds = harness::ras_seeds();
    let mut rng = Rng(0x4A5_5EED_0000_0005);
    let mut events = 0;
    for i in 0..iterations() * seeds.len() {
        let seed = &seeds[i % seeds.len()].1;
        let other = &seeds[rng.below(seeds.len())].1;
        let input = mutate(&mut rng, seed, other);
        events += harness::ras_endpoints(&input);
    }
    assert!(
        events > iterations(),
        "the endpoints did real work ({events} events)"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0xB17E_5EED_0000_0005);
    for _ in 0..iterations() {
        let len = rng.below(600);
        let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        harness::call_endpoint(&input);
        harness::ras_endpoints(&input);
    }
}
