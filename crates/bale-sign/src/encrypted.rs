//! Password-protected secret keys, as minisign encrypts them: the key id,
//! key pair and checksum XORed with an scrypt stream of the password
//! (libsodium's `crypto_pwhash_scryptsalsa208sha256`, whose opslimit and
//! memlimit are stored in the key file and turned into scrypt's N, r and p
//! as libsodium turns them).

use zeroize::Zeroizing;

use crate::SignError;

/// How much work and memory deriving a key's stream takes, as libsodium counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfLimits {
    /// libsodium's opslimit.
    pub opslimit: u64,
    /// libsodium's memlimit, in bytes.
    pub memlimit: u64,
}

impl KdfLimits {
    /// What `minisign -G` uses (libsodium's "sensitive" limits: 1 GiB, a
    /// second or more): a stolen key file resists guessing as minisign's do.
    pub const MINISIGN: KdfLimits = KdfLimits {
        opslimit: 33_554_432,
        memlimit: 1_073_741_824,
    };
    /// libsodium's "interactive" limits (16 MiB): for tests and short-lived keys.
    pub const INTERACTIVE: KdfLimits = KdfLimits {
        opslimit: 524_288,
        memlimit: 16_777_216,
    };
}

/// The most memory a key file may ask the derivation for: minisign's own 1 GiB.
/// A hostile key file asking for more is refused, not obeyed.
const MAX_LOG_N: u8 = 20;
/// The most parallel work a key file may ask for.
const MAX_P: u32 = 16;

/// scrypt's `log2(N)`, `r` and `p` for libsodium's limits (its `pickparams`).
fn pick_params(limits: KdfLimits) -> (u8, u32, u32) {
    let opslimit = limits.opslimit.max(32_768);
    let r: u32 = 8;
    let log_n_below = |max_n: u64| {
        let mut log_n: u8 = 1;
        while log_n < 63 && (1u64 << log_n) <= max_n / 2 {
            log_n += 1;
        }
        log_n
    };
    if opslimit < limits.memlimit / 32 {
        let log_n = log_n_below(opslimit / (u64::from(r) * 4));
        (log_n, r, 1)
    } else {
        let log_n = log_n_below(limits.memlimit / (u64::from(r) * 128));
        let max_rp = ((opslimit / 4) / (1u64 << log_n)).min(0x3fff_ffff);
        // max_rp is at most 0x3fffffff: it fits.
        let p = u32::try_from(max_rp).unwrap_or(0x3fff_ffff) / r;
        (log_n, r, p)
    }
}

/// The stream that encrypts (and decrypts) a key's secret part.
pub(crate) fn key_stream(
    password: &[u8],
    salt: &[u8],
    limits: KdfLimits,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, SignError> {
    let (log_n, r, p) = pick_params(limits);
    let refused = |reason: String| SignError::Malformed {
        what: "secret key",
        reason,
    };
    if log_n > MAX_LOG_N || p == 0 || p > MAX_P {
        return Err(refused(format!(
            "its password derivation asks for scrypt N=2^{log_n}, r={r}, p={p}, more than minisign ever writes (N=2^{MAX_LOG_N}, p<={MAX_P})"
        )));
    }
    let params =
        scrypt::Params::new(log_n, r, p, scrypt::Params::RECOMMENDED_LEN).map_err(|e| {
            refused(format!(
                "its password derivation parameters are invalid ({e})"
            ))
        })?;
    let mut stream = Zeroizing::new(vec![0u8; len]);
    scrypt::scrypt(password, salt, &params, &mut stream)
        .map_err(|e| refused(format!("cannot derive its key stream ({e})")))?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libsodium_limits_become_the_scrypt_parameters_libsodium_uses() {
        // minisign's keys: N=2^20, r=8, p=1 (1 GiB).
        assert_eq!(pick_params(KdfLimits::MINISIGN), (20, 8, 1));
        // Interactive: N=2^14, r=8, p=1 (16 MiB).
        assert_eq!(pick_params(KdfLimits::INTERACTIVE), (14, 8, 1));
        // Few operations for much memory: N from opslimit.
        assert_eq!(
            pick_params(KdfLimits {
                opslimit: 32_768,
                memlimit: 1 << 30
            }),
            (10, 8, 1)
        );
    }

    #[test]
    fn a_key_file_asking_for_more_than_minisign_ever_does_is_refused() {
        let greedy = KdfLimits {
            opslimit: 1 << 40,
            memlimit: 1 << 40,
        };
        let error = key_stream(b"pw", &[0; 32], greedy, 104).unwrap_err();
        assert!(error.to_string().contains("more than minisign"), "{error}");
    }
}
