//! Properties of `decode`: it never panics, whatever the bytes, and re-serializing a decoded
//! payload gives back the input.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use spaces_events::{Category, decode, raw};

/// Any JSON value, nested a few levels.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with some of `fields` (each optional) and some unknown ones (`x…` keys, which no
/// known field name matches).
fn object(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let known: Vec<_> = fields
        .into_iter()
        .map(|(key, value)| proptest::option::of(value).prop_map(move |v| (key, v)))
        .collect();
    let unknown = prop::collection::btree_map("x[A-Z][a-zA-Z0-9_]{0,8}", json(), 0..3);
    (known, unknown)
        .prop_map(|(known, unknown)| {
            let mut map: Map<String, Value> = unknown.into_iter().collect();
            for (key, value) in known {
                if let Some(value) = value {
                    map.insert(key.to_owned(), value);
                }
            }
            Value::Object(map)
        })
        .boxed()
}

fn string() -> BoxedStrategy<Value> {
    any::<String>().prop_map(Value::from).boxed()
}

fn nullable_string() -> BoxedStrategy<Value> {
    prop_oneof![Just(Value::Null), string()].boxed()
}

fn boolean() -> BoxedStrategy<Value> {
    any::<bool>().prop_map(Value::from).boxed()
}

/// ISO string, epoch milliseconds, or null.
fn timestamp() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z"
            .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
    ]
    .boxed()
}

fn array(item: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop::collection::vec(item, 0..4)
        .prop_map(Value::Array)
        .boxed()
}

fn party() -> BoxedStrategy<Value> {
    object(vec![
        ("_id", string()),
        (
            "type",
            prop::sample::select(vec!["user", "anonymous", "phone", "spaceserver"])
                .prop_map(Value::from)
                .boxed(),
        ),
        ("username", nullable_string()),
        ("displayname", nullable_string()),
        ("picture_url", nullable_string()),
        ("joinTime", timestamp()),
    ])
}

/// Values of every JSON type, including the edges of the integer types.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(null)),
        Just(json!(true)),
        Just(json!(-1)),
        Just(json!(1.5)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!("s")),
        Just(json!("\"e\\scaped\u{e9}")),
        Just(json!([])),
        Just(json!(["a", 1])),
        Just(json!({})),
        Just(json!({"_id": "x", "type": "user"})),
    ]
}

/// The JSON pointers of every value in `value` (the root is "").
fn pointers_of(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers_of(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers_of(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn payload() -> impl Strategy<Value = Value> {
    let known = Category::KNOWN
        .iter()
        .filter_map(|c| c.wire_name())
        .map(Value::from)
        .collect::<Vec<_>>();
    let category = prop_oneof![prop::sample::select(known), string()].boxed();
    let recording = object(vec![
        ("_id", string()),
        ("startedBy", party()),
        ("startTime", timestamp()),
        ("endTime", timestamp()),
    ]);
    let media = object(vec![
        ("audio", boolean()),
        ("video", boolean()),
        ("selfMuted", boolean()),
        ("joinTime", timestamp()),
    ]);
    let content = object(vec![
        ("startTime", timestamp()),
        ("endTime", timestamp()),
        ("virtualEndTime", timestamp()),
        (
            "meetingStatus",
            prop::sample::select(vec!["active", "inactive"])
                .prop_map(Value::from)
                .boxed(),
        ),
        ("mediaMode", string()),
        ("bodyText", string()),
        ("attendees", array(party())),
        ("attendee", party()),
        ("recordings", array(recording)),
        ("data", array(json().boxed())),
        ("mediaSession", media),
    ]);
    (
        category,
        object(vec![
            ("_id", string()),
            ("messageId", string()),
            ("topicId", string()),
            ("sender", party()),
            ("content", content),
            ("modified", timestamp()),
            ("loopbackMetadata", json().boxed()),
        ]),
    )
        .prop_map(|(category, mut payload)| {
            payload
                .as_object_mut()
                .unwrap()
                .insert("category".into(), category);
            payload
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn decode_never_panics_on_damaged_payloads(payload in payload(), cut in any::<prop::sample::Index>(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4)) {
        let mut bytes = serde_json::to_vec(&payload).unwrap();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        match decode(&bytes) {
            // Builds the typed view: in debug builds, a disagreement between decode's check and
            // serde's derives is an assertion failure (both ways).
            Ok(event) => { event.payload(); }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn check_agrees_with_the_typed_view(payload in payload(), at in any::<prop::sample::Index>(), value in odd_value()) {
        let mut payload = payload;
        let mut pointers = Vec::new();
        pointers_of(&payload, String::new(), &mut pointers);
        let pointer = &pointers[at.index(pointers.len())];
        if let Some(slot) = payload.pointer_mut(pointer) {
            *slot = value;
        }
        let text = serde_json::to_string(&payload).unwrap();
        let typed = serde_json::from_str::<spaces_events::types::MediaSessionResponse>(&text);
        match decode(&text) {
            Ok(event) => prop_assert_eq!(event.payload(), &typed.unwrap()),
            // Where serde's derives accept an array for a struct, decode does not (by design).
            Err(e) => prop_assert!(typed.is_err() || e.message().contains("sequence"), "{e}\n{text}"),
        }
    }

    #[test]
    fn round_trip_is_exact(payload in payload(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&payload) } else { serde_json::to_string(&payload) }.unwrap();
        let event = decode(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let output = serde_json::to_string(&event).unwrap();
        // Compact input comes back byte for byte; any input comes back as the same JSON value.
        prop_assert_eq!(&output, &serde_json::to_string(&payload).unwrap());
        prop_assert_eq!(serde_json::from_str::<Value>(&output).unwrap(), payload);
        prop_assert_eq!(decode(&output).unwrap(), event);
    }

    #[test]
    fn the_raw_view_is_the_payload(payload in payload(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&payload) } else { serde_json::to_string(&payload) }.unwrap();
        let event = decode(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let root = event.raw();
        prop_assert_eq!(rebuilt(raw::Value::Object(root)), payload.clone());
        let mut visited = Rebuild::default();
        raw::Value::Object(root).visit(&mut visited).unwrap();
        prop_assert_eq!(visited.done, Some(payload.clone()));
        // Every object is found again from its offset.
        if let Some(content) = root.get("content").and_then(raw::Value::object) {
            prop_assert_eq!(event.raw_at(content.offset()), Some(raw::Value::Object(content)));
            let mut entries = root.entries();
            while let Some((_, value)) = entries.next() {
                prop_assert_eq!(event.raw_at(entries.offset()), Some(value));
            }
            prop_assert_eq!(serde_json::from_str::<Value>(content.json()).unwrap(), payload["content"].clone());
        }
        // Any offset, even one inside a string, reads something or nothing, never panics.
        for offset in 0..text.len() + 2 {
            if let Some(object) = event.raw_at(offset).and_then(raw::Value::object) {
                let _ = object.json();
                for (key, _) in object.entries() {
                    let _ = key.get();
                }
                let _ = raw::Value::Object(object).visit(&mut Rebuild::default());
            }
        }
    }
}

/// The fuzz corpus of `decode` (inputs libFuzzer kept for the paths they reach): nothing panics,
/// and for each that decodes, the raw view and its one-pass walk give the JSON serde_json reads.
#[test]
fn the_decode_fuzz_corpus_replays() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let (mut replayed, mut decoded) = (0, 0);
    for dir in ["corpus/decode", "seeds/decode"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let data = std::fs::read(entry.expect("entry").path()).expect("readable");
            replayed += 1;
            let Ok(event) = decode(&data) else {
                continue;
            };
            decoded += 1;
            let mut visited = Rebuild::default();
            let walked = raw::Value::Object(event.raw()).visit(&mut visited);
            // serde_json refuses what Rust strings cannot hold (unpaired surrogate escapes in
            // unknown fields); the raw view reads those as U+FFFD.
            if let Ok(expected) = serde_json::from_str::<Value>(event.json()) {
                assert_eq!(walked, Ok(()));
                assert_eq!(visited.done.as_ref(), Some(&expected), "{}", event.json());
                assert_eq!(rebuilt(raw::Value::Object(event.raw())), expected);
            }
        }
    }
    assert!(
        replayed > 0 && decoded > 0,
        "no decode corpus under {}",
        root.display()
    );
}

/// A `serde_json::Value` of a raw value, from its parts (so that it checks the walk, not
/// serde_json).
fn rebuilt(value: raw::Value<'_>) -> Value {
    match value {
        raw::Value::Null => Value::Null,
        raw::Value::Bool(b) => Value::Bool(b),
        raw::Value::Number(n) => serde_json::from_str(n).expect("a number"),
        raw::Value::String(s) => Value::String(s.get().into_owned()),
        raw::Value::Array(a) => Value::Array(a.iter().map(rebuilt).collect()),
        raw::Value::Object(o) => Value::Object(
            o.entries()
                .map(|(k, v)| (k.get().into_owned(), rebuilt(v)))
                .collect(),
        ),
    }
}

/// A `serde_json::Value` of a raw value through [`raw::Value::visit`].
#[derive(Default)]
struct Rebuild {
    /// Open containers with the key each goes under in its parent.
    open: Vec<(Option<String>, Value)>,
    done: Option<Value>,
}

impl Rebuild {
    fn put(&mut self, key: Option<String>, value: Value) {
        match self.open.last_mut() {
            Some((_, Value::Object(map))) => {
                map.insert(key.unwrap_or_default(), value);
            }
            Some((_, Value::Array(items))) => items.push(value),
            _ => self.done = Some(value),
        }
    }
}

impl<'a> raw::Visitor<'a> for Rebuild {
    type Error = ();

    fn open(&mut self, key: Option<raw::Str<'a>>, object: bool) -> Result<(), ()> {
        let container = if object {
            Value::Object(Map::new())
        } else {
            Value::Array(Vec::new())
        };
        self.open
            .push((key.map(|k| k.get().into_owned()), container));
        Ok(())
    }

    fn close(&mut self) -> Result<(), ()> {
        let (key, value) = self.open.pop().ok_or(())?;
        self.put(key, value);
        Ok(())
    }

    fn value(&mut self, key: Option<raw::Str<'a>>, value: raw::Value<'a>) -> Result<(), ()> {
        let key = key.map(|k| k.get().into_owned());
        match value {
            raw::Value::Number(n) => self.put(key, serde_json::from_str(n).map_err(|_| ())?),
            value => self.put(key, rebuilt(value)),
        }
        Ok(())
    }
}
