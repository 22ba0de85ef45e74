//! Characters that change how text looks without being seen: Unicode format characters
//! (category Cf: zero-width spaces and joiners, the bidirectional controls that reorder what
//! follows them, the soft hyphen, tags) and controls (Cc).

/// Unicode general category Cf (format characters), Unicode 15.
pub fn is_format_char(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// A format or control character: nothing a person can see, something a display obeys.
pub fn is_invisible(c: char) -> bool {
    c.is_control() || is_format_char(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_zero_widths_and_controls_are_invisible() {
        for c in [
            '\u{202E}', '\u{2066}', '\u{200B}', '\u{200D}', '\u{FEFF}', '\u{00AD}', '\n',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', 'é', 'а', '１', ' ', '@'] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }
}
