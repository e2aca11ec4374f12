//! `decode`'s one pass: a payload's JSON checked against the shapes the derived `Deserialize`
//! impls of `types.rs` accept (generated into `shape.rs`), building nothing. The typed view is
//! built later, on first use, from text this pass accepted.
//!
//! The scanner accepts exactly what serde_json and the derives accept — RFC 8259 syntax; strings
//! without raw control characters, with surrogate escapes paired where a string is read (not in
//! skipped values); `i64` integers in range (`-0` is a float to serde_json); a known field at most
//! once; serde_json's recursion limit where it recurses (not in skipped values) — and leaves
//! `serde_json::Value` fields, rare and small, to serde_json itself. Only success matters: a
//! failure is explained by re-parsing into the typed view with path tracking, so the errors are
//! serde's own. Debug builds assert the agreement both ways (see `event.rs` and `decode/mod.rs`).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{bytes as json, shape};

/// A JSON shape, as a serde-derived type accepts it.
pub(crate) enum Shape {
    /// `String`.
    Str,
    /// `bool`.
    Bool,
    /// `i64`.
    Int,
    /// `serde_json::Value`: anything.
    Any,
    /// `Option<T>`: `null` or `T`.
    Nullable(&'static Shape),
    /// `Vec<T>`.
    Array(&'static Shape),
    /// A struct: a JSON object (never an array), unknown keys ignored.
    Object(&'static Object),
    /// An untagged enum of newtype variants: the first that matches.
    OneOf(&'static [Shape]),
}

/// A struct's fields.
pub(crate) struct Object {
    pub(crate) fields: &'static [Field],
    /// Bit `i` set: field `i` is neither `Option` nor `#[serde(default)]`, so absent is an error.
    pub(crate) required: u64,
    /// The field a wire key names.
    pub(crate) index: fn(&str) -> Option<usize>,
}

/// One field of a struct.
pub(crate) struct Field {
    pub(crate) shape: Shape,
    /// For the root's string fields: where [`check`] records the value's [`Span`].
    pub(crate) slot: Option<usize>,
}

/// Where a string field of the root object sits in the checked text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Span {
    /// Absent or `null`.
    Absent,
    /// The value, verbatim (it has no escapes): `text[start..end]`.
    At(u32, u32),
    /// A string with escapes (or in a text too long for `u32` offsets): only the typed view
    /// has it.
    Escaped,
}

impl Span {
    /// The value in `text`, when it is there verbatim.
    pub(crate) fn text(self, text: &str) -> Option<&str> {
        match self {
            Span::At(start, end) => text.get(start as usize..end as usize),
            Span::Absent | Span::Escaped => None,
        }
    }
}

/// The root's string fields, by [`Field::slot`], packed: 30 bytes rather than 60 (an event
/// keeps them, and an event's size is what every subscription's channel reserves per slot).
#[derive(Clone, Copy)]
pub(crate) struct Spans {
    start: [u32; shape::STRINGS],
    /// The length, or one of [`ABSENT`] and [`ESCAPED`] (a value this long is kept as escaped:
    /// the typed view has it).
    len: [u16; shape::STRINGS],
}

const ABSENT: u16 = u16::MAX;
const ESCAPED: u16 = u16::MAX - 1;

impl Spans {
    fn pack(spans: &[Span; shape::STRINGS]) -> Self {
        let mut packed = Spans {
            start: [0; shape::STRINGS],
            len: [ABSENT; shape::STRINGS],
        };
        for (slot, span) in spans.iter().enumerate() {
            (packed.start[slot], packed.len[slot]) = match *span {
                Span::Absent => (0, ABSENT),
                Span::At(start, end) => match u16::try_from(end - start) {
                    Ok(len) if len < ESCAPED => (start, len),
                    _ => (0, ESCAPED),
                },
                Span::Escaped => (0, ESCAPED),
            };
        }
        packed
    }

    /// Slot `slot`'s span.
    pub(crate) fn get(&self, slot: usize) -> Span {
        match self.len[slot] {
            ABSENT => Span::Absent,
            ESCAPED => Span::Escaped,
            len => Span::At(self.start[slot], self.start[slot] + u32::from(len)),
        }
    }
}

/// What [`check`] found in a valid document.
pub(crate) struct Checked {
    pub(crate) spans: Spans,
    /// Whether there is whitespace outside strings (else the text is the compact wire JSON).
    pub(crate) spaced: bool,
}

/// Checks `text` (one JSON document) against the root shape, nested at most `depth` arrays and
/// objects deep; `None` when it is deeper or the typed view would not build from it.
pub(crate) fn check(text: &str, depth: usize) -> Option<Checked> {
    let mut spans = [Span::Absent; shape::STRINGS];
    let mut scan = Scan {
        text,
        i: 0,
        spaced: false,
    };
    let depth = Depth {
        budget: depth,
        serde: SERDE_DEPTH,
    };
    if scan.peek()? != b'{' {
        return None;
    }
    scan.object(&shape::MEDIA_SESSION_RESPONSE, depth, Some(&mut spans))?;
    scan.skip_space();
    (scan.i == text.len()).then_some(Checked {
        spans: Spans::pack(&spans),
        spaced: scan.spaced,
    })
}

/// serde_json's recursion allowance: a container it recurses into takes one, and none may take
/// the last.
const SERDE_DEPTH: u8 = 128;

/// What nesting is left: ours (every container), and serde_json's (containers it recurses into;
/// it skips ignored values without recursion or limit).
#[derive(Clone, Copy)]
struct Depth {
    budget: usize,
    serde: u8,
}

impl Depth {
    fn enter(self) -> Option<Depth> {
        let serde = self.serde - 1;
        Some(Depth {
            budget: self.budget.checked_sub(1)?,
            serde: (serde > 0).then_some(serde)?,
        })
    }
}

/// What a number is to serde_json.
#[derive(PartialEq)]
enum Number {
    /// An integer an `i64` holds (`-0` excluded: serde_json reads it as a float).
    I64,
    /// Anything else: a float, or an integer out of `i64` range.
    Other,
}

/// A cursor over the text.
struct Scan<'t> {
    text: &'t str,
    i: usize,
    /// Whitespace was skipped: all of it outside strings is, here (so the writer of the wire
    /// JSON needs no pass of its own to know the text is compact).
    spaced: bool,
}

impl<'t> Scan<'t> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.i).copied()
    }

    fn skip_space(&mut self) {
        let start = self.i;
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.byte() {
            self.i += 1;
        }
        self.spaced |= self.i != start;
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.byte()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.i += 1)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.i + word.len();
        (self.text.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// One value of `shape`; `span` receives where a string value is.
    fn value(
        &mut self,
        shape: &'static Shape,
        depth: Depth,
        span: Option<&mut Span>,
    ) -> Option<()> {
        let first = self.peek()?;
        match (shape, first) {
            (Shape::Nullable(_), b'n') => self.literal("null"),
            (Shape::Nullable(inner), _) => self.value(inner, depth, span),
            (Shape::Str, b'"') => self.string_value(span),
            (Shape::Bool, b't') => self.literal("true"),
            (Shape::Bool, b'f') => self.literal("false"),
            (Shape::Int, b'-' | b'0'..=b'9') => (self.number()? == Number::I64).then_some(()),
            (Shape::OneOf(variants), _) => {
                let shape = variants.iter().find(|v| match v {
                    Shape::Str => first == b'"',
                    Shape::Int => first == b'-' || first.is_ascii_digit(),
                    _ => false,
                })?;
                self.value(shape, depth, span)
            }
            (Shape::Any, _) => self.any(depth),
            (Shape::Array(item), b'[') => {
                let depth = depth.enter()?;
                self.i += 1;
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.value(item, depth, None)?;
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            (Shape::Object(object), b'{') => self.object(object, depth, None),
            _ => None,
        }
    }

    /// An object at `{`, of `object`'s fields; `spans` receives where its string fields are.
    fn object(
        &mut self,
        object: &Object,
        depth: Depth,
        mut spans: Option<&mut [Span; shape::STRINGS]>,
    ) -> Option<()> {
        let depth = depth.enter()?;
        self.i += 1;
        let mut seen = 0u64;
        if self.peek()? == b'}' {
            self.i += 1;
        } else {
            loop {
                let key = self.key()?;
                self.eat(b':')?;
                match (object.index)(&key) {
                    // serde's derives refuse a known field twice; unknown ones may repeat.
                    Some(index) if seen & 1 << index == 0 => {
                        seen |= 1 << index;
                        let field = &object.fields[index];
                        let span = match (field.slot, spans.as_deref_mut()) {
                            (Some(slot), Some(spans)) => Some(&mut spans[slot]),
                            _ => None,
                        };
                        self.value(&field.shape, depth, span)?;
                    }
                    Some(_) => return None,
                    None => self.skip(depth.budget)?,
                }
                match self.peek()? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        (object.required & !seen == 0).then_some(())
    }

    /// A key, unescaped.
    fn key(&mut self) -> Option<std::borrow::Cow<'t, str>> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let escaped = self.string(true)?;
        let raw = self.text.get(start..self.i - 1)?;
        Some(if escaped {
            crate::raw::unescape(raw).into()
        } else {
            raw.into()
        })
    }

    /// A string read by serde (escapes checked, surrogates paired), at `"`.
    fn string_value(&mut self, span: Option<&mut Span>) -> Option<()> {
        let start = self.i + 1;
        let escaped = self.string(true)?;
        if let Some(span) = span {
            *span = match (escaped, u32::try_from(start), u32::try_from(self.i - 1)) {
                (false, Ok(start), Ok(end)) => Span::At(start, end),
                _ => Span::Escaped,
            };
        }
        Some(())
    }

    /// A string at `"`, through its closing quote; whether it has escapes. `read`: as serde reads
    /// a string (surrogate escapes must pair up), not as it skips one.
    fn string(&mut self, read: bool) -> Option<bool> {
        let bytes = self.text.as_bytes();
        let mut escaped = false;
        self.i += 1;
        loop {
            self.i = json::special(bytes, self.i);
            match self.byte()? {
                b'"' => {
                    self.i += 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    self.escape(read)?;
                }
                // A control character: never raw in a JSON string.
                _ => return None,
            }
        }
    }

    /// The escape after a backslash.
    fn escape(&mut self, read: bool) -> Option<()> {
        let kind = self.byte()?;
        self.i += 1;
        match kind {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => {
                let unit = self.hex4()?;
                if !read || !(0xD800..=0xDFFF).contains(&unit) {
                    return Some(());
                }
                // A leading surrogate, then `\u` and a trailing one.
                if unit >= 0xDC00 {
                    return None;
                }
                self.literal("\\u")?;
                (0xDC00..=0xDFFF).contains(&self.hex4()?).then_some(())
            }
            _ => None,
        }
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.text.get(self.i..self.i + 4)?;
        let unit = u16::from_str_radix(digits, 16)
            .ok()
            .filter(|_| digits.bytes().all(|b| b.is_ascii_hexdigit()))?;
        self.i += 4;
        Some(unit)
    }

    /// A number (RFC 8259 grammar), and what it is to serde_json.
    fn number(&mut self) -> Option<Number> {
        let bytes = self.text.as_bytes();
        let negative = self.byte() == Some(b'-');
        self.i += usize::from(negative);
        let start = self.i;
        let mut magnitude = Some(0u64);
        match self.byte()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                while let Some(&d @ b'0'..=b'9') = bytes.get(self.i) {
                    magnitude = magnitude
                        .and_then(|m| m.checked_mul(10))
                        .and_then(|m| m.checked_add(u64::from(d - b'0')));
                    self.i += 1;
                }
            }
            _ => return None,
        }
        if bytes.get(start) == Some(&b'0') && self.byte().is_some_and(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut integer = true;
        if self.byte() == Some(b'.') {
            integer = false;
            self.i += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.byte() {
            integer = false;
            self.i += 1;
            if let Some(b'+' | b'-') = self.byte() {
                self.i += 1;
            }
            self.digits()?;
        }
        let fits = match (integer, magnitude, negative) {
            (false, _, _) | (_, None, _) => false,
            (true, Some(m), false) => m <= i64::MAX as u64,
            (true, Some(m), true) => (1..=1 << 63).contains(&m),
        };
        Some(if fits { Number::I64 } else { Number::Other })
    }

    /// One or more digits.
    fn digits(&mut self) -> Option<()> {
        let start = self.i;
        while self.byte().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        (self.i > start).then_some(())
    }

    /// A value serde skips (`IgnoredAny`): syntax only, any number, unpaired surrogate escapes;
    /// no recursion (the nesting is a stack of closing brackets) and only our depth limit.
    fn skip(&mut self, budget: usize) -> Option<()> {
        let mut open: Vec<u8> = Vec::new();
        loop {
            match self.peek()? {
                first @ (b'[' | b'{') => {
                    if open.len() == budget {
                        return None;
                    }
                    self.i += 1;
                    let close = if first == b'[' { b']' } else { b'}' };
                    if self.peek()? == close {
                        self.i += 1;
                    } else {
                        open.push(close);
                        if close == b'}' {
                            self.skip_key()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.string(false)?;
                }
                b't' => self.literal("true")?,
                b'f' => self.literal("false")?,
                b'n' => self.literal("null")?,
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                _ => return None,
            }
            // After a value: close what ends here, then the next value or the end.
            loop {
                let Some(&close) = open.last() else {
                    return Some(());
                };
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        if close == b'}' {
                            self.skip_key()?;
                        }
                        break;
                    }
                    b if b == close => {
                        self.i += 1;
                        open.pop();
                    }
                    _ => return None,
                }
            }
        }
    }

    fn skip_key(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.string(false)?;
        self.eat(b':')
    }

    /// A `serde_json::Value`: its extent found by [`skip`](Self::skip), then read by serde_json
    /// itself (number ranges, surrogates, its recursion limit), which builds nothing.
    fn any(&mut self, depth: Depth) -> Option<()> {
        self.skip_space();
        let start = self.i;
        self.skip(depth.budget)?;
        let text = self.text.get(start..self.i)?;
        let de = &mut serde_json::Deserializer::from_str(text);
        // serde_json may enter `depth.serde - 1` more containers.
        de.deserialize_any(Skip(usize::from(depth.serde) - 1)).ok()
    }
}

/// Any value as `serde_json::Value` accepts it, nested at most `.0` arrays and objects deep.
struct Skip(usize);

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.0.checked_sub(1).ok_or_else(too_deep)?;
        while seq.next_element_seed(Skip(inner))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.0.checked_sub(1).ok_or_else(too_deep)?;
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Skip(inner))?;
        }
        Ok(())
    }
}

fn too_deep<E: de::Error>() -> E {
    E::custom("nested too deep")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::MediaSessionResponse;
    use serde::Deserialize;

    /// What serde's derives (objects only, as `decode` reports errors) make of `text`.
    fn typed(text: &str) -> bool {
        let de = &mut serde_json::Deserializer::from_str(text);
        MediaSessionResponse::deserialize(crate::decode::explain::Strict(&mut *de)).is_ok()
            && de.end().is_ok()
    }

    #[test]
    fn agrees_with_the_derives_on_the_edges() {
        for text in [
            r#"{"category":"x"}"#,
            r#"{}"#,
            r#"{"category":null}"#,
            r#"{"category":"x","category":"y"}"#,
            r#"{"category":"x","extra":1,"extra":2}"#,
            r#"{"categ\u006fry":"x"}"#,
            r#"{"category":"x","modified":9223372036854775807}"#,
            r#"{"category":"x","modified":9223372036854775808}"#,
            r#"{"category":"x","modified":-9223372036854775808}"#,
            r#"{"category":"x","modified":1.0}"#,
            r#"{"category":"x","modified":true}"#,
            r#"{"category":"x","modified":null}"#,
            r#"{"category":"x","receivers":null}"#,
            r#"{"category":"x","receivers":[{"_id":"a"},null]}"#,
            r#"{"category":"x","sender":["a","user"]}"#,
            r#"{"category":"x","sender":{"_id":1}}"#,
            r#"{"category":"x","content":{"attendees":[{"mdsrvSessions":[{"audio":"yes"}]}]}}"#,
            r#"{"category":"x","content":{"data":[1,{"a":[]},null]}}"#,
            r#"{"category":"x","loopback_metadata":{"deep":[[[[]]]]}}"#,
            r#"{"category":"x"} trailing"#,
            r#"{"category":"x","unknown":[1e400]}"#,
            // Syntax.
            r#"{"category":"x",}"#,
            r#"{"category":"x" "a":1}"#,
            r#"{"category":"x","a":[1,]}"#,
            r#"{"category":"x","a":01}"#,
            r#"{"category":"x","a":-}"#,
            r#"{"category":"x","a":1.}"#,
            r#"{"category":"x","a":.5}"#,
            r#"{"category":"x","a":1e}"#,
            r#"{"category":"x","a":1E+5}"#,
            r#"{"category":"x","a":-0.0e-0}"#,
            r#"{"category":"x","a":+1}"#,
            r#"{"category":"x","a":tru}"#,
            r#"{"category":"x","a":nullx}"#,
            "{\"category\":\"x\",\"a\":\"tab\there\"}",
            "{\"category\":\"x\",\"a\":\"raw\ttab\"}",
            "{\"category\":\"x\",\"a\":\"raw\u{1f}\"}",
            "{\"category\":\"x\",\"a\":\"\u{7f}\u{e9}\"}",
            r#"{"category":"x","a":"\q"}"#,
            r#"{"category":"x","a":"\u12G4"}"#,
            r#"{"category":"x","a":"\u+123"}"#,
            " \n{\"category\" : \"x\" ,\r\n\"a\" :[ 1 , { } ] }\t",
            "{\"category\":\"x\"}\u{c}",
            // Surrogates: paired where serde reads a string, anything where it skips one.
            r#"{"category":"\ud83d\ude00"}"#,
            r#"{"category":"\ud83d"}"#,
            r#"{"category":"\ude00"}"#,
            r#"{"category":"\ud83d\u0041"}"#,
            r#"{"category":"x","unknown":"\ud83d"}"#,
            r#"{"category":"x","loopback_metadata":"\ud83d"}"#,
            r#"{"category":"x","loopback_metadata":{"\ud83d":1}}"#,
            r#"{"category":"x","unknown":{"\ud83d":1}}"#,
            r#"{"\ud83d":1,"category":"x"}"#,
            // Integers for i64 fields.
            r#"{"category":"x","modified":-0}"#,
            r#"{"category":"x","modified":0}"#,
            r#"{"category":"x","modified":-9223372036854775809}"#,
            r#"{"category":"x","modified":18446744073709551616}"#,
            r#"{"category":"x","modified":1e3}"#,
            r#"{"category":"x","modified":1000000000000000000}"#,
            r#"{"category":"x","modified":9999999999999999999}"#,
            r#"{"category":"x","modified":-9999999999999999999}"#,
            r#"{"category":"x","modified":99999999999999999999}"#,
            r#"{"category":"x","modified":-1.5}"#,
            r#"{"category":"x","modified":00}"#,
            r#"{"category":"x","modified":-01}"#,
            r#"{"category":"x","modified":1.}"#,
            r#"{"category":"x","modified":1e}"#,
            r#"{"category":"x","modified":-}"#,
            r#"{"category":"x","content":{"attendees":[{"joinTime":-1}]}}"#,
            r#"{"category":"x","loopback_metadata":123456789012345678901234567890}"#,
            r#"{"category":"x","loopback_metadata":-0}"#,
            r#"{"category":"x","loopback_metadata":[1e400]}"#,
            r#"{"category":"x","content":{"data":[1e400]}}"#,
            r#"[{"category":"x"}]"#,
        ] {
            assert_eq!(check(text, usize::MAX).is_some(), typed(text), "{text}");
            // A depth limit refuses exactly what nests deeper, wherever it is.
            for depth in 0..8 {
                let expected =
                    typed(text) && !crate::decode::bytes::deeper_than(text.as_bytes(), depth);
                assert_eq!(check(text, depth).is_some(), expected, "{depth}: {text}");
            }
        }
    }

    #[test]
    fn depth_limits_agree_on_the_fixtures() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        for dir in ["valid", "invalid"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("fixtures") {
                let text = std::fs::read_to_string(entry.expect("entry").path()).expect("text");
                for depth in 0..10 {
                    let expected =
                        typed(&text) && !crate::decode::bytes::deeper_than(text.as_bytes(), depth);
                    assert_eq!(check(&text, depth).is_some(), expected, "{depth}: {text}");
                }
            }
        }
    }

    #[test]
    fn agrees_with_serde_json_at_its_recursion_limit() {
        for n in [120, 125, 126, 127, 128, 130] {
            let deep = |open: &str, close: &str| format!("{}1{}", open.repeat(n), close.repeat(n));
            for text in [
                format!(
                    r#"{{"category":"x","loopback_metadata":{}}}"#,
                    deep("[", "]")
                ),
                format!(r#"{{"category":"x","unknown":{}}}"#, deep("[", "]")),
                format!(
                    r#"{{"category":"x","content":{{"data":[{}]}}}}"#,
                    deep("{\"a\":", "}")
                ),
            ] {
                assert_eq!(
                    check(&text, usize::MAX).is_some(),
                    typed(&text),
                    "{n}: {text}"
                );
            }
        }
    }

    #[test]
    fn depth_counts_arrays_and_objects() {
        let text = r#"{"category":"x","content":{"data":[{"a":[]}]},"x":[[1]]}"#;
        assert!(check(text, 5).is_some());
        assert!(check(text, 4).is_none());
        assert!(check(r#"{"category":"x","x":[[[[1]]]]}"#, 4).is_none());
        assert!(check(r#"{"category":"x","x":[[[[1]]]]}"#, 5).is_some());
        let known = r#"{"category":"x","content":{"attendee":{"mdsrvSessions":[{}]}}}"#;
        assert!(check(known, 5).is_some());
        for depth in 0..5 {
            assert!(check(known, depth).is_none(), "{depth}");
        }
    }

    #[test]
    fn whitespace_outside_strings_is_noticed() {
        let spaced = |text: &str| check(text, usize::MAX).expect("valid").spaced;
        assert!(!spaced(r#"{"category":"a b","x":[1,{"y":" "}]}"#));
        for text in [
            " {\"category\":\"a\"}",
            "{\"category\":\"a\"}\n",
            "{\"category\" :\"a\"}",
            "{\"category\":\"a\",\"x\":[1,\t2]}",
            "{\"category\":\"a\",\"x\":{\"y\":[{}\r]}}",
        ] {
            assert!(spaced(text), "{text}");
        }
    }

    #[test]
    fn spans_point_into_the_text() {
        let text = r#"{"topicId":"s1","category":"c\u0041","_id":null,"categ\u006fry2":1}"#;
        let Checked { spans, spaced } = check(text, usize::MAX).expect("valid");
        assert!(!spaced);
        assert_eq!(spans.get(shape::TOPIC_ID), Span::At(12, 14));
        assert_eq!(spans.get(shape::CATEGORY), Span::Escaped);
        assert_eq!(spans.get(shape::ID), Span::Absent);
        assert_eq!(spans.get(shape::MESSAGE_ID), Span::Absent);
    }
}
