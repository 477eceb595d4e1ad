//! zstd's multi-threaded output must not depend on the worker count, or
//! packages would differ between machines.

use bale_archive::compress_with_workers;

/// A few MiB of tar-like, partly compressible bytes: several zstd jobs.
fn stream() -> Vec<u8> {
    let mut out = Vec::new();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for i in 0..24u64 {
        for line in 0..20_000u64 {
            out.extend_from_slice(
                format!("file {i} line {line} value {}\n", line * 7 % 13).as_bytes(),
            );
        }
        for _ in 0..(256 << 10) / 8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

#[test]
fn compression_output_is_identical_with_1_2_and_4_workers() {
    let input = stream();
    assert!(input.len() > 16 << 20);
    let mut outputs = Vec::new();
    for workers in [1, 2, 4] {
        let mut out = Vec::new();
        compress_with_workers(&input[..], &mut out, workers).unwrap();
        outputs.push(out);
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
    assert_eq!(zstd::decode_all(&outputs[0][..]).unwrap(), input);
}
