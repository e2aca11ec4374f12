//! Every fixture against `schema/` (a JSON Schema validator) and against `decode`: the schema and
//! the decoder agree on what is valid, and decoding is lossless.

use serde_json::Value;
use spaces_events::{Category, DecodeErrorKind, decode};
use spaces_events_tests::{fixtures, validator};

#[test]
fn valid_fixtures_validate_decode_and_round_trip() {
    let schema = validator(None);
    let valid = fixtures("valid");
    assert!(valid.len() >= 20, "fixtures missing");
    for (name, text) in &valid {
        let input: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Err(e) = schema.validate(&input) {
            panic!(
                "{name} does not validate against the schema: {e} at {}",
                e.instance_path()
            );
        }
        let event = decode(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let output = serde_json::to_string(&event).expect("serializes");
        let reparsed: Value = serde_json::from_str(&output).expect("output is JSON");
        assert_eq!(reparsed, input, "{name}: round trip changed the payload");
        assert!(
            !output.contains('\n') && output.len() <= text.len(),
            "{name}: output is not compact"
        );
        let view = serde_json::to_value(event.payload()).expect("typed view serializes");
        assert_projection(&view, &input, name);
    }
}

/// The typed view says nothing the wire JSON does not: every value it holds is in the input, at
/// the same place. (It may omit `null`s, empty arrays and unknown fields; the event keeps those.)
fn assert_projection(view: &Value, wire: &Value, at: &str) {
    match (view, wire) {
        (Value::Object(v), Value::Object(w)) => {
            for (key, value) in v {
                let wire_value = w
                    .get(key)
                    .unwrap_or_else(|| panic!("{at}.{key}: in the typed view, not in the input"));
                assert_projection(value, wire_value, &format!("{at}.{key}"));
            }
        }
        (Value::Array(v), Value::Array(w)) => {
            assert_eq!(v.len(), w.len(), "{at}: array length");
            for (i, (value, wire_value)) in v.iter().zip(w).enumerate() {
                assert_projection(value, wire_value, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(view, wire, "{at}"),
    }
}

#[test]
fn every_known_category_is_recognized() {
    let mut seen = Vec::new();
    for (name, text) in fixtures("valid") {
        let event = decode(&text).unwrap();
        assert_eq!(
            Category::from_wire(event.category_name()),
            event.category(),
            "{name}"
        );
        seen.push(event.category());
    }
    for documented in spaces_events_tests::DOCUMENTED_CATEGORIES {
        assert!(seen.contains(&documented), "no fixture for {documented:?}");
    }
    for category in Category::KNOWN {
        let wire = category
            .wire_name()
            .expect("known categories have a wire name");
        assert_eq!(Category::from_wire(wire), category);
    }
    let unknown = decode(
        fixtures("valid")
            .iter()
            .find(|(n, _)| n == "unknown_category")
            .unwrap()
            .1
            .as_str(),
    )
    .unwrap();
    assert_eq!(
        (unknown.category(), unknown.category_name()),
        (Category::Unknown, "app.event.meeting.transcript.ready")
    );
}

#[test]
fn numbers_escapes_and_nulls_survive_byte_for_byte() {
    let valid = fixtures("valid");
    let get = |name: &str| decode(&valid.iter().find(|(n, _)| n == name).unwrap().1).unwrap();
    let unknown = serde_json::to_string(&get("edge_unknown_fields")).unwrap();
    assert!(
        unknown.contains(r#""hops":[1,2.50,-0,1e3,1E-7,12345678901234567890123]"#),
        "{unknown}"
    );
    assert!(unknown.contains(r#""deep":{"a":{"b":{"c":[[[{"d":null}]]]}}}"#));
    let unicode = serde_json::to_string(&get("edge_unicode")).unwrap();
    assert!(
        unicode.contains(
            r#""bodyText":"caf\u00e9 \ud83d\ude00 \"quoted\" back\\slash \/ tab\t nl\n""#
        ),
        "{unicode}"
    );
    let nulls = get("edge_nulls");
    assert!(
        nulls.json().contains(r#""startTime":null"#) && nulls.json().contains(r#""attendees":[]"#)
    );
    assert_eq!(nulls.start_time(), None);
    let epoch = get("edge_epoch_ms");
    assert_eq!(
        epoch.end_time().and_then(|t| t.unix_millis()),
        Some(1_795_517_537_500)
    );
    assert!(epoch.json().contains(r#""startTime":1795515300000"#));
}

#[test]
fn typed_accessors_read_the_payload() {
    let valid = fixtures("valid");
    let get = |name: &str| decode(&valid.iter().find(|(n, _)| n == name).unwrap().1).unwrap();
    let started = get("meeting_started");
    assert_eq!(started.topic_id(), Some("5f1051f0f3ed772f915e19ed"));
    assert_eq!(
        started.sender().and_then(|s| s.type_.as_deref()),
        Some("spaceserver")
    );
    assert_eq!(started.meeting_status(), Some("active"));
    assert_eq!(
        started.attendees()[1].displayname.as_deref(),
        Some("Bob (guest)")
    );
    assert_eq!(
        started.start_time().and_then(|t| t.unix_millis()),
        Some(1_795_515_300_000)
    );
    assert_eq!(
        get("attendee_left")
            .attendee()
            .and_then(|a| a.displayname.as_deref()),
        Some("Bob (guest)")
    );
    assert_eq!(
        get("recording_started").recordings()[0].id.as_deref(),
        Some("rec-6743f2")
    );
    assert_eq!(get("edge_large_roster").attendees().len(), 500);
    let tracks = get("tracksstatus");
    let media = tracks
        .content()
        .and_then(|c| c.media_session.as_ref())
        .unwrap();
    assert_eq!((media.self_muted, media.audio), (Some(true), Some(false)));
}

#[test]
fn invalid_fixtures_are_rejected_by_schema_and_decoder_alike() {
    use DecodeErrorKind::{Invalid, Syntax};
    let expected: &[(&str, DecodeErrorKind, &str)] = &[
        (
            "attendee_name_number",
            Invalid,
            "content.attendees[2].displayname",
        ),
        ("attendees_object", Invalid, "content.attendees"),
        ("category_null", Invalid, "category"),
        ("category_number", Invalid, "category"),
        (
            "media_session_audio_string",
            Invalid,
            "content.mediaSession.audio",
        ),
        ("missing_category", Invalid, ""),
        ("not_json", Syntax, ""),
        ("not_object_array", Invalid, ""),
        ("not_object_string", Invalid, ""),
        ("sender_string", Invalid, "sender"),
        ("timestamp_bool", Invalid, "content.endTime"),
        ("trailing_garbage", Syntax, ""),
        ("truncated", Syntax, "content.attendees[0]"),
    ];
    let invalid = fixtures("invalid");
    let names: Vec<_> = invalid.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        expected.iter().map(|e| e.0).collect::<Vec<_>>(),
        "fixture list and expectations differ"
    );
    let schema = validator(None);
    for ((name, text), (_, kind, path)) in invalid.iter().zip(expected) {
        let err = decode(text).expect_err(name);
        assert_eq!((err.kind(), err.path()), (*kind, *path), "{name}: {err}");
        assert!(
            err.line() >= 1 && err.column() >= 1,
            "{name}: no position in {err:?}"
        );
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            assert!(
                !schema.is_valid(&value),
                "{name}: the schema accepts what decode rejects"
            );
        }
    }
}

#[test]
fn subscription_payloads_match_their_schema() {
    use spaces_events::types::{ChannelSubscribed, SubscribeChannel, SubscribeChannelFailed};
    // The vendor documentation's examples.
    let subscribed = r#"{"channel":{"_id":"5f1051f0f3ed772f915e19ed","type":"topic"},"dtsid":"1234","sessionId":"8b59782f-07af-4a7f-e61b-69df5e803d2f"}"#;
    let failed = r#"{"channel":{"type":"topic","_id":"594140a11d108619100a7363"},"error":{"code":"invalid.parameters","message":"channel data was not provided"}}"#;
    let subscribe = r#"{"channel":{"type":"topic","_id":"594140a11d108619100a7363"}}"#;
    for (definition, text) in [
        ("ChannelSubscribed", subscribed),
        ("SubscribeChannelFailed", failed),
        ("SubscribeChannel", subscribe),
    ] {
        let value: Value = serde_json::from_str(text).unwrap();
        assert!(validator(Some(definition)).is_valid(&value), "{definition}");
    }
    let failed: SubscribeChannelFailed = serde_json::from_str(failed).unwrap();
    assert_eq!(failed.error.code.as_deref(), Some("invalid.parameters"));
    assert_eq!(
        serde_json::from_str::<ChannelSubscribed>(subscribed)
            .unwrap()
            .channel
            .id,
        "5f1051f0f3ed772f915e19ed"
    );
    assert_eq!(
        serde_json::from_str::<SubscribeChannel>(subscribe)
            .unwrap()
            .channel
            .type_
            .as_deref(),
        Some("topic")
    );
    let send: Value = serde_json::from_str(
        &std::fs::read_to_string(
            spaces_events_tests::fixtures_dir().join("valid/tracksstatus.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        validator(Some("SendMediaSessionEvents")).is_valid(&send),
        "a tracksstatus is a valid SEND_MEDIA_SESSION_EVENTS"
    );
}
