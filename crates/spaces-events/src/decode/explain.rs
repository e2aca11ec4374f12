//! The error path of [`decode`](super::decode): a deserializer adapter that accepts only JSON
//! objects for structs, at every depth, run with path tracking to explain why a payload failed.
//!
//! serde's derived structs also accept a sequence, matched to the fields by position, so
//! `"sender": ["a", "b"]` would silently decode as a `Sender`. The schema says object; this
//! adapter asks the inner deserializer for a map wherever a struct is wanted, so an array is the
//! type error it should be. It wraps every nested deserializer the same way.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

/// Wraps a deserializer; see the module docs.
pub(crate) struct Strict<D>(pub(crate) D);

macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(Wrap(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit deserialize_seq
        deserialize_map deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(Wrap(visitor))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Wrap(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Wrap(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Wrap(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Wrap(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Wrap(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A visitor whose nested deserializers are [`Strict`] too.
struct Wrap<V>(V);

macro_rules! visit {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: serde::de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.0.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128)
        visit_f32(f32) visit_f64(f64) visit_char(char) visit_str(&str) visit_borrowed_str(&'de str)
        visit_string(String) visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(Strict(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(Strict(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Access(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Access(map))
    }

    // The generated types have no data-carrying enums, so variants are not wrapped.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(data)
    }
}

/// Sequence and map access whose elements deserialize through [`Strict`].
struct Access<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Access<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Access<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

/// serde's message about a payload of the wrong shape, in the schema's words: `must be an
/// object, got an array`, `is required`. `text` is the payload and `path` where serde stopped:
/// the value there says what arrived when serde's message does not (the untagged `Timestamp`).
/// Other messages are returned as they are; `None` says the message was not rephrased.
pub(super) fn in_schema_words(message: &str, text: &str, path: &str) -> Option<String> {
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return Some(format!("`{field}` is required"));
    }
    let (expected, got) = if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    {
        let (got, expected) = rest.split_once(", expected ")?;
        (expected_words(expected), got_words(got))
    } else if message == "data did not match any variant of untagged enum Timestamp" {
        let got =
            value_at(text, path).map_or_else(|| "something else".to_owned(), |v| describe(&v));
        ("an ISO-8601 string or epoch milliseconds".to_owned(), got)
    } else {
        return None;
    };
    Some(format!("must be {expected}, got {got}"))
}

/// serde's `expected …` as the schema says it.
fn expected_words(expected: &str) -> String {
    match expected {
        e if e.starts_with("struct ") || e == "a map" => "an object".into(),
        "a sequence" => "an array".into(),
        "a boolean" => "true or false".into(),
        "i64" | "u64" | "i32" | "u32" => "an integer".into(),
        "f64" | "f32" => "a number".into(),
        other => other.into(),
    }
}

/// serde's `invalid type: …` (what arrived) as JSON says it.
fn got_words(got: &str) -> String {
    let inner = |prefix: &str| {
        got.strip_prefix(prefix)
            .map(|v| v.trim_matches('`').to_owned())
    };
    match got {
        "sequence" => "an array".into(),
        "map" => "an object".into(),
        "null" | "unit value" => "null".into(),
        g if g.starts_with("string ") => "a string".into(),
        _ => inner("boolean ")
            .or_else(|| inner("integer "))
            .or_else(|| inner("floating point "))
            .unwrap_or_else(|| got.to_owned()),
    }
}

fn describe(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The value at a path such as `content.attendees[2].startTime` (`None` if the text is not JSON
/// or the path leads nowhere).
fn value_at(text: &str, path: &str) -> Option<serde_json::Value> {
    let mut value: serde_json::Value = serde_json::from_str(text).ok()?;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (key, indexes) = segment.split_once('[').unwrap_or((segment, ""));
        if !key.is_empty() {
            value = value.get_mut(key)?.take();
        }
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            value = value
                .get_mut(index.trim_end_matches(']').parse::<usize>().ok()?)?
                .take();
        }
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::in_schema_words;

    #[test]
    fn serde_messages_in_the_schemas_words() {
        let words =
            |m| in_schema_words(m, r#"{"content":{"startTime":true}}"#, "content.startTime");
        assert_eq!(
            words("invalid type: sequence, expected struct Sender").as_deref(),
            Some("must be an object, got an array")
        );
        assert_eq!(
            words("invalid type: integer `5`, expected a string").as_deref(),
            Some("must be a string, got 5")
        );
        assert_eq!(
            words("invalid type: string \"x\", expected a boolean").as_deref(),
            Some("must be true or false, got a string")
        );
        assert_eq!(
            words("data did not match any variant of untagged enum Timestamp").as_deref(),
            Some("must be an ISO-8601 string or epoch milliseconds, got true")
        );
        assert_eq!(
            words("missing field `category`").as_deref(),
            Some("`category` is required")
        );
        assert_eq!(words("EOF while parsing a value"), None);
    }
}
