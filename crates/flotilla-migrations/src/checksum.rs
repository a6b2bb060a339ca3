//! Checksums of up sections. They must be identical on every platform and editor, so the text is
//! normalised first: a UTF-8 byte-order mark is dropped and CRLF line endings become LF.

use sha2::{Digest, Sha256};

/// Strips a leading UTF-8 BOM and turns CRLF into LF.
pub(crate) fn normalise(text: &str) -> String {
    text.strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n")
}

/// Hex SHA-256 of an up section after normalisation.
pub fn checksum(up_section: &str) -> String {
    let digest = Sha256::digest(normalise(up_section).as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    // Pinned against `printf 'CREATE TABLE t (id INTEGER);\n' | sha256sum`: if this changes, every
    // tenant in every fleet would report its migrations as edited.
    const PINNED: &str = "cb7bba9473513daa6e6daf9337f9d5822cbc95cac71c944b6bf85958041038e1";

    #[test]
    fn checksum_is_pinned() {
        assert_eq!(checksum("CREATE TABLE t (id INTEGER);\n"), PINNED);
    }

    #[test]
    fn bom_and_crlf_do_not_change_the_checksum() {
        let plain = checksum("CREATE TABLE t (id INTEGER);\n");
        assert_eq!(checksum("\u{feff}CREATE TABLE t (id INTEGER);\r\n"), plain);
        assert_ne!(checksum("CREATE TABLE t (id BIGINT);\n"), plain);
    }
}
