//! Counting lines, words, characters and bytes of a stream, in one pass.

use std::io::{self, Read};

/// The counts of one input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Newline characters.
    pub lines: u64,
    /// Maximal runs of bytes that are not whitespace.
    pub words: u64,
    /// UTF-8 characters: bytes that do not continue a multi-byte sequence.
    pub chars: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Counts {
    /// Adds another input's counts to these (for the total line).
    pub fn add(&mut self, other: Counts) {
        self.lines += other.lines;
        self.words += other.words;
        self.chars += other.chars;
        self.bytes += other.bytes;
    }
}

/// POSIX whitespace in the C locale: space, \t, \n, \v, \f, \r.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Counts everything in `input`, reading it in blocks; a word that spans two
/// blocks counts once.
pub fn count<R: Read>(mut input: R) -> io::Result<Counts> {
    let mut counts = Counts::default();
    let mut in_word = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        counts.bytes += n as u64;
        for &b in &buf[..n] {
            if b == b'\n' {
                counts.lines += 1;
            }
            if b & 0xc0 != 0x80 {
                counts.chars += 1;
            }
            if is_space(b) {
                in_word = false;
            } else if !in_word {
                in_word = true;
                counts.words += 1;
            }
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its data a few bytes at a time, like a pipe.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn counts_lines_words_chars_and_bytes() {
        let c = count(&b"one two\nthree\n"[..]).unwrap();
        assert_eq!(c, Counts { lines: 2, words: 3, chars: 14, bytes: 14 });
    }

    #[test]
    fn empty_input_counts_nothing() {
        assert_eq!(count(&b""[..]).unwrap(), Counts::default());
    }

    #[test]
    fn last_line_without_newline_is_not_a_line() {
        let c = count(&b"a\nb"[..]).unwrap();
        assert_eq!((c.lines, c.words), (1, 2));
    }

    #[test]
    fn multibyte_characters_count_once_each() {
        // "héllo wörld" : 11 characters, 13 bytes.
        let c = count("héllo wörld".as_bytes()).unwrap();
        assert_eq!((c.chars, c.bytes, c.words), (11, 13, 2));
    }

    #[test]
    fn every_kind_of_whitespace_separates_words() {
        let c = count(&b" a\tb\x0bc\x0cd\re  \n"[..]).unwrap();
        assert_eq!(c.words, 5);
    }

    #[test]
    fn a_word_split_across_reads_counts_once() {
        let c = count(Trickle(b"abcdef ghijkl", 4)).unwrap();
        assert_eq!((c.words, c.bytes), (2, 13));
    }

    #[test]
    fn totals_add_up() {
        let mut total = count(&b"a b\n"[..]).unwrap();
        total.add(count(&b"c\n"[..]).unwrap());
        assert_eq!(total, Counts { lines: 2, words: 3, chars: 6, bytes: 6 });
    }
}
