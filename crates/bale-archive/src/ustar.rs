//! The ustar header block and PAX records, byte by byte: what bale's own
//! archives and the tar segments of its exports (`bale export apk`) are
//! made of, so nothing about the packing machine (owner names, times,
//! umask, a tar library's defaults) reaches them.

/// A tar block.
pub const BLOCK: usize = 512;
/// Longest value the 11 octal digits of the size and mtime fields hold.
pub const OCTAL_11_MAX: u64 = 0o77777777777;

/// The fields of one ustar header; uid and gid are always 0.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    /// The name, at most 100 bytes (a longer one goes in a PAX `path` record).
    pub name: &'a [u8],
    /// The mode bits as stored.
    pub mode: u32,
    /// The content's size, at most [`OCTAL_11_MAX`].
    pub size: u64,
    /// The modification time, at most [`OCTAL_11_MAX`].
    pub mtime: u64,
    /// The type flag (`0` file, `2` symlink, `5` directory, `x` PAX header).
    pub flag: u8,
    /// The link target, at most 100 bytes.
    pub link: &'a [u8],
    /// The owner's user and group name, when the header names one (apk's
    /// `root`); bale's archives name none.
    pub owner: Option<&'a [u8]>,
}

/// One ustar header block, its checksum as GNU tar writes it (six octal
/// digits, a NUL, a space).
pub fn header(fields: &Header<'_>) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..fields.name.len()].copy_from_slice(fields.name);
    octal(&mut h[100..108], u64::from(fields.mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], fields.size);
    octal(&mut h[136..148], fields.mtime);
    h[156] = fields.flag;
    h[157..157 + fields.link.len()].copy_from_slice(fields.link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    if let Some(owner) = fields.owner {
        h[265..265 + owner.len()].copy_from_slice(owner);
        h[297..297 + owner.len()].copy_from_slice(owner);
    }
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// Appends the PAX record `"<len> key=value\n"`, where `<len>` counts the whole record.
pub fn pax_record(out: &mut Vec<u8>, key: &str, value: &str) {
    let rest = 1 + key.len() + 1 + value.len() + 1;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}={value}\n").as_bytes());
}

/// The first `max` bytes of `s` (the full value goes in a PAX record).
pub fn truncate(s: &str, max: usize) -> &[u8] {
    &s.as_bytes()[..s.len().min(max)]
}

/// Writes `value` as zero-padded octal filling `field` but its last byte (NUL).
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_its_own_digits() {
        let mut out = Vec::new();
        pax_record(&mut out, "path", &"a".repeat(93));
        assert_eq!(out.len(), 103);
        assert!(out.starts_with(b"103 path="));
        let mut out = Vec::new();
        pax_record(&mut out, "path", "ab");
        assert_eq!(out, b"11 path=ab\n");
    }

    #[test]
    fn header_checksum_is_the_sum_with_spaces_in_its_field() {
        for owner in [None, Some(&b"root"[..])] {
            let h = header(&Header {
                name: b"bin/",
                mode: 0o755,
                size: 0,
                mtime: 1_700_000_000,
                flag: b'5',
                link: b"",
                owner,
            });
            let mut copy = h;
            copy[148..156].fill(b' ');
            let sum: u32 = copy.iter().map(|&b| u32::from(b)).sum();
            assert_eq!(&h[148..156], format!("{sum:06o}\0 ").as_bytes());
            assert_eq!(&h[265..269], owner.unwrap_or(&[0; 4]));
        }
    }
}
