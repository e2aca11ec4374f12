//! `decode`'s one pass: a payload's JSON checked against the shapes the derived `Deserialize`
//! impls of `types.rs` accept (generated into `shape.rs`), building nothing. The typed view is
//! built later, on first use, from text this pass accepted.
//!
//! Only success matters here: a failure is explained by re-parsing into the typed view with path
//! tracking, so the errors are serde's own.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use serde_json::value::RawValue;

use crate::{json, shape};

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

/// The root's string fields, by [`Field::slot`].
pub(crate) type Spans = [Span; shape::STRINGS];

static ROOT: Shape = Shape::Object(&shape::MEDIA_SESSION_RESPONSE);

/// Checks `text` (one JSON document) against the root shape, nested at most `depth` arrays and
/// objects deep; `None` when it is deeper or the typed view would not build from it.
pub(crate) fn check(text: &str, depth: usize) -> Option<Spans> {
    let mut spans = [Span::Absent; shape::STRINGS];
    let de = &mut serde_json::Deserializer::from_str(text);
    let root = Expect {
        shape: &ROOT,
        spans: Some(&mut spans),
        span: None,
        text,
        depth,
    };
    root.deserialize(&mut *de).ok()?;
    de.end().ok()?;
    Some(spans)
}

/// Checks one value against `shape`, recording string spans where asked.
struct Expect<'s, 't> {
    shape: &'static Shape,
    /// At the root object: the spans of its string fields.
    spans: Option<&'s mut Spans>,
    /// At a root string field: its span.
    span: Option<&'s mut Span>,
    text: &'t str,
    /// Arrays and objects this value may still open, itself included.
    depth: usize,
}

impl<'s, 't> Expect<'s, 't> {
    /// The checker of a value inside this array or object.
    fn nested(&self, shape: &'static Shape) -> Expect<'static, 't> {
        Expect {
            shape,
            spans: None,
            span: None,
            text: self.text,
            depth: self.depth.saturating_sub(1),
        }
    }

    fn accepts(&self, wanted: fn(&Shape) -> bool) -> bool {
        match self.shape {
            Shape::OneOf(variants) => variants.iter().any(wanted),
            shape => wanted(shape),
        }
    }

    fn string<E: de::Error>(self, span: Span) -> Result<(), E> {
        if !self.accepts(|s| matches!(s, Shape::Str)) {
            return Err(self.mismatch());
        }
        if let Some(slot) = self.span {
            *slot = span;
        }
        Ok(())
    }

    fn int<E: de::Error>(self, fits: bool) -> Result<(), E> {
        if fits && self.accepts(|s| matches!(s, Shape::Int)) {
            Ok(())
        } else {
            Err(self.mismatch())
        }
    }

    fn mismatch<E: de::Error>(&self) -> E {
        E::custom("shape mismatch")
    }
}

impl<'de> DeserializeSeed<'de> for Expect<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.shape {
            Shape::Str => d.deserialize_str(self),
            Shape::Bool => d.deserialize_bool(self),
            Shape::Int => d.deserialize_i64(self),
            Shape::Any => d.deserialize_any(Skip(self.depth)),
            Shape::Nullable(_) => d.deserialize_option(self),
            Shape::Array(_) | Shape::Object(_) if self.depth == 0 => Err(self.mismatch()),
            Shape::Array(_) => d.deserialize_seq(self),
            Shape::Object(_) => d.deserialize_map(self),
            Shape::OneOf(_) => d.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Expect<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value of the schema's type")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        let start = (v.as_ptr() as usize).wrapping_sub(self.text.as_ptr() as usize);
        let span = match (u32::try_from(start), u32::try_from(start + v.len())) {
            (Ok(start), Ok(end)) if start as usize <= self.text.len() => Span::At(start, end),
            _ => Span::Escaped,
        };
        self.string(span)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.string(Span::Escaped)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        if self.accepts(|s| matches!(s, Shape::Bool)) {
            Ok(())
        } else {
            Err(self.mismatch())
        }
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.int(true)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.int(i64::try_from(v).is_ok())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        match self.shape {
            Shape::Nullable(_) => Ok(()),
            _ => Err(self.mismatch()),
        }
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.shape {
            Shape::Nullable(inner) => Expect {
                shape: inner,
                ..self
            }
            .deserialize(d),
            _ => Err(self.mismatch()),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Shape::Array(item) = self.shape else {
            return Err(self.mismatch());
        };
        while seq.next_element_seed(self.nested(item))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let Shape::Object(object) = self.shape else {
            return Err(self.mismatch());
        };
        // serde's derives refuse a known field twice; unknown ones may repeat.
        let mut seen = 0u64;
        while let Some(key) = map.next_key_seed(Key(object))? {
            let Some(index) = key else {
                // As the derives skip it (syntax only: a number may be out of range), then its
                // depth.
                let value = map.next_value::<&RawValue>()?;
                if json::deeper_than(value.get().as_bytes(), self.depth.saturating_sub(1)) {
                    return Err(too_deep());
                }
                continue;
            };
            if seen & 1 << index != 0 {
                return Err(self.mismatch());
            }
            seen |= 1 << index;
            let field = &object.fields[index];
            let nested = self.nested(&field.shape);
            let span = match (field.slot, self.spans.as_deref_mut()) {
                (Some(slot), Some(spans)) => Some(&mut spans[slot]),
                _ => None,
            };
            map.next_value_seed(Expect { span, ..nested })?;
        }
        if object.required & !seen != 0 {
            return Err(self.mismatch());
        }
        Ok(())
    }
}

/// Any value as `serde_json::Value` accepts it, nested at most `.0` arrays and objects deep.
struct Skip(usize);

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // Not `deserialize_ignored_any`: serde_json would skip the value without visiting it,
        // and the depth would go unchecked.
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

/// A key of `Object`: the index of the field it names, if any.
struct Key(&'static Object);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        Ok((self.0.index)(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::MediaSessionResponse;
    use serde::Deserialize;

    /// What serde's derives (objects only, as `decode` reports errors) make of `text`.
    fn typed(text: &str) -> bool {
        let de = &mut serde_json::Deserializer::from_str(text);
        MediaSessionResponse::deserialize(crate::strict::Strict(&mut *de)).is_ok()
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
            r#"{"category":"x","loopback_metadata":[1e400]}"#,
            r#"{"category":"x","content":{"data":[1e400]}}"#,
            r#"[{"category":"x"}]"#,
        ] {
            assert_eq!(check(text, usize::MAX).is_some(), typed(text), "{text}");
        }
    }

    #[test]
    fn depth_counts_arrays_and_objects() {
        let text = r#"{"category":"x","content":{"data":[{"a":[]}]},"x":[[1]]}"#;
        assert!(check(text, 5).is_some());
        assert!(check(text, 4).is_none());
        assert!(check(r#"{"category":"x","x":[[[[1]]]]}"#, 4).is_none());
        assert!(check(r#"{"category":"x","x":[[[[1]]]]}"#, 5).is_some());
    }

    #[test]
    fn spans_point_into_the_text() {
        let text = r#"{"topicId":"s1","category":"c\u0041","_id":null}"#;
        let spans = check(text, usize::MAX).expect("valid");
        assert_eq!(spans[shape::TOPIC_ID], Span::At(12, 14));
        assert_eq!(spans[shape::CATEGORY], Span::Escaped);
        assert_eq!(spans[shape::ID], Span::Absent);
        assert_eq!(spans[shape::MESSAGE_ID], Span::Absent);
    }
}
