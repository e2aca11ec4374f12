//! An event's JSON read where it lies: objects, arrays, strings and numbers of the text
//! [`decode`](crate::decode) checked, found by key or position without building anything (no
//! typed view, no allocation but for strings with escapes).
//!
//! For bindings that make their own objects (the Python package reads its fields this way) and
//! for reading what the schema does not name:
//!
//! ```
//! use spaces_events::raw::Value;
//!
//! let event = spaces_events::decode(r#"{"category":"x","content":{"x-room":{"floor":3}}}"#)?;
//! let content = event.raw().get("content").and_then(Value::object).unwrap();
//! let room = content.get("x-room").and_then(Value::object).unwrap();
//! assert_eq!(room.json(), r#"{"floor":3}"#);
//! assert!(matches!(room.get("floor"), Some(Value::Number("3"))));
//! # Ok::<(), spaces_events::DecodeError>(())
//! ```
//!
//! The walk trusts the text's syntax, which `decode` checked; it never panics and never reads
//! outside the text, whatever it is given.

use std::borrow::Cow;
use std::fmt;

use crate::decode::bytes::{special, string_end};

/// A JSON value in an event's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as spelled (`-1.50e3`).
    Number(&'a str),
    /// A string.
    String(Str<'a>),
    /// An array.
    Array(Array<'a>),
    /// An object.
    Object(Object<'a>),
}

impl<'a> Value<'a> {
    /// The value at byte `at` of `doc`; `None` past the end.
    fn at(doc: &'a str, at: usize) -> Option<Self> {
        let bytes = doc.as_bytes();
        Some(match *bytes.get(at)? {
            b'{' => Value::Object(Object { doc, start: at }),
            b'[' => Value::Array(Array { doc, start: at }),
            b'"' => {
                let (end, escaped) = string(bytes, at + 1);
                let raw = doc.get(at + 1..end.saturating_sub(1)).unwrap_or_default();
                Value::String(Str { raw, escaped })
            }
            b'n' => Value::Null,
            b't' => Value::Bool(true),
            b'f' => Value::Bool(false),
            _ => Value::Number(doc.get(at..scalar_end(bytes, at)).unwrap_or_default()),
        })
    }

    /// The value that starts at byte `at` of `doc`, when one does (`None` at a byte no value
    /// starts with: a comma, a colon, whitespace, a closing bracket, inside a word).
    pub(crate) fn starting(doc: &'a str, at: usize) -> Option<Self> {
        match doc.as_bytes().get(at)? {
            b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b'n' | b't' | b'f' => Value::at(doc, at),
            _ => None,
        }
    }

    /// Where this value, found at byte `at` of `doc`, ends.
    fn end(self, doc: &str, at: usize) -> usize {
        match self {
            Value::Object(_) | Value::Array(_) => container_end(doc.as_bytes(), at),
            Value::String(s) => at + s.raw.len() + 2,
            Value::Number(n) => at + n.len(),
            Value::Null | Value::Bool(_) => scalar_end(doc.as_bytes(), at),
        }
    }

    /// Walks the value once, depth first, telling `visitor` what it meets: for building another
    /// representation (a Python `dict`, say) in one pass. Iterative: any nesting depth.
    pub fn visit<V: Visitor<'a>>(self, visitor: &mut V) -> Result<(), V::Error> {
        let (doc, start) = match self {
            Value::Object(Object { doc, start }) | Value::Array(Array { doc, start }) => {
                (doc, start)
            }
            scalar => return visitor.value(None, scalar),
        };
        let bytes = doc.as_bytes();
        let mut i = start;
        // The open containers: whether each is an object.
        let mut open: Vec<bool> = Vec::new();
        let mut key = None;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'{' | b'[' => {
                    visitor.open(key.take(), b == b'{')?;
                    open.push(b == b'{');
                    i += 1;
                }
                b'}' | b']' => {
                    visitor.close()?;
                    open.pop();
                    if open.is_empty() {
                        break;
                    }
                    i += 1;
                }
                b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' => i += 1,
                _ => {
                    let Some(value) = Value::at(doc, i) else {
                        break;
                    };
                    i = value.end(doc, i);
                    match value {
                        Value::String(s) if key.is_none() && open.last() == Some(&true) => {
                            key = Some(s);
                        }
                        value => visitor.value(key.take(), value)?,
                    }
                }
            }
        }
        Ok(())
    }

    /// The object, when it is one.
    pub fn object(self) -> Option<Object<'a>> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    /// The array, when it is one.
    pub fn array(self) -> Option<Array<'a>> {
        match self {
            Value::Array(array) => Some(array),
            _ => None,
        }
    }

    /// The string, when it is one.
    pub fn str(self) -> Option<Str<'a>> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// What [`Value::visit`] tells, in document order. `key` is the entry's key inside an object,
/// `None` inside an array (and for the value visited itself).
pub trait Visitor<'a> {
    /// What stops the walk.
    type Error;

    /// An object (`object`) or array starts.
    fn open(&mut self, key: Option<Str<'a>>, object: bool) -> Result<(), Self::Error>;

    /// The innermost open object or array ends.
    fn close(&mut self) -> Result<(), Self::Error>;

    /// A string, number, boolean or `null`.
    fn value(&mut self, key: Option<Str<'a>>, value: Value<'a>) -> Result<(), Self::Error>;
}

/// A JSON string in an event's text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Str<'a> {
    raw: &'a str,
    escaped: bool,
}

impl<'a> Str<'a> {
    /// The text between the quotes, escapes as they are.
    pub fn raw(self) -> &'a str {
        self.raw
    }

    /// Whether it has escapes (so [`get`](Self::get) allocates).
    pub fn is_escaped(self) -> bool {
        self.escaped
    }

    /// The string, unescaped. An unpaired surrogate escape (`"\ud800"`: valid JSON, not valid
    /// Unicode) becomes U+FFFD, as in `serde_json`.
    pub fn get(self) -> Cow<'a, str> {
        if self.escaped {
            Cow::Owned(unescape(self.raw))
        } else {
            Cow::Borrowed(self.raw)
        }
    }

    /// Whether the unescaped string is `s`, without allocating when there are no escapes.
    pub fn eq_str(self, s: &str) -> bool {
        if self.escaped {
            unescape(self.raw) == s
        } else {
            self.raw == s
        }
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.get())
    }
}

/// A JSON object in an event's text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Object<'a> {
    doc: &'a str,
    /// Where its `{` is.
    start: usize,
}

impl<'a> Object<'a> {
    /// `{}`.
    pub const EMPTY: Object<'static> = Object {
        doc: "{}",
        start: 0,
    };

    /// Its entries in order, keys as they arrived (a key may repeat: JSON allows it, and
    /// `decode` refuses it only for fields the schema names).
    pub fn entries(self) -> Entries<'a> {
        Entries {
            doc: self.doc,
            i: self.start + 1,
            last: None,
        }
    }

    /// The value of the first entry named `key`.
    pub fn get(self, key: &str) -> Option<Value<'a>> {
        self.entries()
            .find(|(k, _)| k.eq_str(key))
            .map(|(_, value)| value)
    }

    /// The object's JSON, as it arrived.
    pub fn json(self) -> &'a str {
        json(self.doc, self.start)
    }

    /// Where it starts in the event's text ([`MediaSessionEvent::raw_at`](crate::MediaSessionEvent::raw_at)
    /// finds it again).
    pub fn offset(self) -> usize {
        self.start
    }
}

impl fmt::Debug for Object<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

/// The entries of an [`Object`].
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    doc: &'a str,
    /// Just inside the `{`, or where the last value starts.
    i: usize,
    /// The last value, whose end is found only when the next entry is wanted (`get` of a
    /// large object's field need not skip past it).
    last: Option<Value<'a>>,
}

impl Entries<'_> {
    /// Where the value last returned starts in the event's text (for
    /// [`MediaSessionEvent::raw_at`](crate::MediaSessionEvent::raw_at)).
    pub fn offset(&self) -> usize {
        self.i
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = (Str<'a>, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.doc.as_bytes();
        let mut i = self.last.take().map_or(self.i, |v| v.end(self.doc, self.i));
        i = skip_space(bytes, i);
        if bytes.get(i) == Some(&b',') {
            i = skip_space(bytes, i + 1);
        }
        let Some(Value::String(key)) = Value::at(self.doc, i) else {
            self.i = bytes.len();
            return None; // `}`
        };
        i = skip_space(bytes, i + key.raw.len() + 2);
        if bytes.get(i) == Some(&b':') {
            i = skip_space(bytes, i + 1);
        }
        let value = Value::at(self.doc, i)?;
        (self.i, self.last) = (i, Some(value));
        Some((key, value))
    }
}

/// A JSON array in an event's text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Array<'a> {
    doc: &'a str,
    /// Where its `[` is.
    start: usize,
}

impl<'a> Array<'a> {
    /// Its items in order.
    pub fn iter(self) -> Items<'a> {
        Items {
            doc: self.doc,
            i: self.start + 1,
            last: None,
        }
    }

    /// The array's JSON, as it arrived.
    pub fn json(self) -> &'a str {
        json(self.doc, self.start)
    }
}

impl fmt::Debug for Array<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

impl<'a> IntoIterator for Array<'a> {
    type Item = Value<'a>;
    type IntoIter = Items<'a>;

    fn into_iter(self) -> Items<'a> {
        self.iter()
    }
}

/// The items of an [`Array`].
#[derive(Clone, Debug)]
pub struct Items<'a> {
    doc: &'a str,
    /// Just inside the `[`, or where the last item starts.
    i: usize,
    last: Option<Value<'a>>,
}

impl<'a> Iterator for Items<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        let bytes = self.doc.as_bytes();
        let mut i = self.last.take().map_or(self.i, |v| v.end(self.doc, self.i));
        i = skip_space(bytes, i);
        match bytes.get(i) {
            Some(b',') => i = skip_space(bytes, i + 1),
            Some(b']') | None => {
                self.i = bytes.len();
                return None;
            }
            _ => {}
        }
        let value = Value::at(self.doc, i)?;
        (self.i, self.last) = (i, Some(value));
        Some(value)
    }
}

/// The JSON of the array or object at `start`.
fn json(doc: &str, start: usize) -> &str {
    doc.get(start..container_end(doc.as_bytes(), start))
        .unwrap_or_default()
}

/// Just past the bracket that closes the one at `start`.
fn container_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            b'"' => i = string_end(bytes, i),
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    bytes.len()
}

/// Just past the closing quote of the string whose contents start at `i`, and whether it has
/// escapes.
fn string(bytes: &[u8], mut i: usize) -> (usize, bool) {
    let mut escaped = false;
    loop {
        i = special(bytes, i);
        match bytes.get(i) {
            Some(b'"') => return (i + 1, escaped),
            Some(b'\\') => {
                escaped = true;
                i += 2;
            }
            Some(_) => i += 1,
            None => return (bytes.len(), escaped),
        }
    }
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(i) {
        i += 1;
    }
    i
}

/// The end of a number or literal at `i`.
fn scalar_end(bytes: &[u8], i: usize) -> usize {
    bytes[i.min(bytes.len())..]
        .iter()
        .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
        .map_or(bytes.len(), |n| i + n)
}

/// A JSON string's contents, unescaped; an unpaired surrogate escape becomes U+FFFD.
pub(crate) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest[at + 1..];
        let (c, used) = match escape.as_bytes().first() {
            Some(b'b') => ('\u{8}', 1),
            Some(b'f') => ('\u{c}', 1),
            Some(b'n') => ('\n', 1),
            Some(b'r') => ('\r', 1),
            Some(b't') => ('\t', 1),
            Some(b'u') => unicode(escape),
            Some(_) => match escape.chars().next() {
                Some(c) => (c, c.len_utf8()),
                None => break,
            },
            None => break,
        };
        out.push(c);
        rest = escape.get(used..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// The character of `u` + four hex digits at the start of `escape` (and of a trailing
/// surrogate escape after a leading one), and the bytes it took.
fn unicode(escape: &str) -> (char, usize) {
    let hex = |at: usize| {
        escape
            .get(at..at + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u32::from_str_radix(d, 16).ok())
    };
    let Some(unit) = hex(1) else {
        return (char::REPLACEMENT_CHARACTER, 1);
    };
    if (0xD800..0xDC00).contains(&unit) && escape.get(5..7) == Some("\\u") {
        if let Some(trailing @ 0xDC00..=0xDFFF) = hex(7) {
            let code = 0x10000 + ((unit - 0xD800) << 10) + (trailing - 0xDC00);
            return (char::from_u32(code).unwrap_or_default(), 11);
        }
    }
    (
        char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER),
        5,
    )
}
