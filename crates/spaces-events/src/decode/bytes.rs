//! Byte-level passes over JSON text, well-formed or hostile: where strings end, and the
//! whitespace between tokens. Strings are skipped sixteen bytes at a time (SSE2; eight bytes
//! elsewhere), so a pass costs little more than the bytes outside strings.

/// The index of the first quote, backslash or control character (below 0x20) at or after `i`:
/// where a string may end or needs a look. The text's length when there is none.
#[inline]
pub(crate) fn special(json: &[u8], i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    let i = match sse2::special(json, i) {
        Ok(found) => return found,
        Err(tail) => tail,
    };
    swar_special(json, i)
}

/// [`special`] eight bytes at a time, then one by one: the whole search without SSE2, the last
/// bytes (fewer than 16) with it.
#[inline]
fn swar_special(json: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x;
    while let Some(chunk) = json.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let found = (zero_bytes(word ^ (ONES * u64::from(b'"')))
            | zero_bytes(word ^ (ONES * u64::from(b'\\')))
            | word.wrapping_sub(ONES * 0x20) & !word)
            & HIGHS;
        if found != 0 {
            return i + found.trailing_zeros() as usize / 8;
        }
        i += 8;
    }
    json[i.min(json.len())..]
        .iter()
        .position(|&b| matches!(b, b'"' | b'\\' | 0..0x20))
        .map_or(json.len(), |n| i + n)
}

/// Sixteen bytes a step with SSE2, which every x86_64 processor has (no detection needed).
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// `Ok` with where [`special`](super::special) is, when it is in a whole 16-byte block from
    /// `i`; else `Err` with where the blocks end (fewer than 16 bytes left).
    #[inline]
    pub(super) fn special(json: &[u8], mut i: usize) -> Result<usize, usize> {
        while let Some(block) = json.get(i..i + 16) {
            // SAFETY: SSE2 is in every x86_64 target; the load reads the 16 bytes of `block`
            // (unaligned loads are allowed).
            let found = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().cast());
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                // Below 0x20, unsigned: min(v, 0x1F) == v.
                let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
            };
            if found != 0 {
                return Ok(i + found.trailing_zeros() as usize);
            }
            i += 16;
        }
        Err(i)
    }
}

/// The index just past the closing quote of the string whose contents start at `i`; the text's
/// length when the string never ends.
pub(crate) fn string_end(json: &[u8], mut i: usize) -> usize {
    loop {
        i = special(json, i);
        match json.get(i) {
            Some(b'"') => return i + 1,
            Some(b'\\') => i += 2, // a backslash and the byte it escapes
            Some(_) => i += 1,
            None => return json.len(),
        }
    }
}

/// Whether `json` nests arrays and objects more than `limit` deep.
pub(crate) fn deeper_than(json: &[u8], limit: usize) -> bool {
    let (mut depth, mut i) = (0usize, 0);
    while let Some(&b) = json.get(i) {
        i += 1;
        match b {
            b'"' => i = string_end(json, i),
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// `json` without the whitespace outside its strings; everything else (string escapes, number
/// spellings, key order) stays byte for byte.
pub(crate) fn minify(json: &str) -> String {
    let bytes = json.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'"' {
            let end = string_end(bytes, i + 1);
            out.extend_from_slice(&bytes[i..end]);
            i = end;
        } else {
            if !is_space(b) {
                out.push(b);
            }
            i += 1;
        }
    }
    // Only ASCII bytes outside strings were dropped, so the bytes are still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_finds_the_first_quote_backslash_or_control_wherever_it_is() {
        for len in 0..40 {
            for at in 0..=len {
                for b in [b'"', b'\\', 0, 0x1f] {
                    let mut text = vec![b'a'; len];
                    text.extend_from_slice("é\u{7f}".as_bytes());
                    if at < len {
                        text[at] = b;
                    }
                    let expected = if at < len { at } else { text.len() };
                    assert_eq!(special(&text, 0), expected, "{len} {at} {b}");
                    assert_eq!(swar_special(&text, 0), expected, "{len} {at} {b}");
                }
            }
        }
    }

    #[test]
    fn strings_end_after_their_closing_quote() {
        assert_eq!(string_end(br#""ab" x"#, 1), 4);
        assert_eq!(string_end(br#""a\"b\\" x"#, 1), 8);
        assert_eq!(string_end(br#""ab\"#, 1), 4);
        assert_eq!(string_end(br#""ab\"#, 9), 4);
    }

    #[test]
    fn depth_counts_brackets_outside_strings() {
        let text = br#"{"a":[1,{"c":"[[[["}]}"#;
        assert!(!deeper_than(text, 3));
        assert!(deeper_than(text, 2));
    }

    #[test]
    fn minify_keeps_strings_and_numbers() {
        let text = "{ \"a b\" : [ 1.50 , 1e3, -0 ],\n\t\"c\\\" d\":\"\\u00e9 x\" }";
        assert_eq!(minify(text), r#"{"a b":[1.50,1e3,-0],"c\" d":"\u00e9 x"}"#);
    }
}
