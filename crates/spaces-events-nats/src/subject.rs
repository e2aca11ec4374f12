//! Subjects and message ids.
//!
//! A NATS subject token cannot hold `.`, `*`, `>` or whitespace, and cannot be empty. Space ids
//! (24 hex digits in practice) and category words pass as they are; any other byte than
//! `[A-Za-z0-9_-]` is written `~XX` (its hex value; `~` itself too), and an empty token is `~`.
//! So `spaces.<topic>.<category>` is always a valid subject, and distinct ids give distinct
//! subjects.

use spaces_events::MediaSessionEvent;

/// `s` as one subject token (and one key-value key): see the module docs.
pub fn token(s: &str) -> String {
    if s.is_empty() {
        return "~".into();
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("~{b:02X}"));
        }
    }
    out
}

/// `<prefix>.<topicId>.<category tokens…>`: the category's dots separate tokens, each escaped
/// as [`token`] does. An event without `topicId` goes to the topic `~`.
pub fn subject(prefix: &str, event: &MediaSessionEvent) -> String {
    let mut subject = format!("{prefix}.{}", token(event.topic_id().unwrap_or_default()));
    for word in event.category_name().split('.') {
        subject.push('.');
        subject.push_str(&token(word));
    }
    subject
}

/// `Nats-Msg-Id`: `<topicId>:<_id>`, or `<topicId>:~<FNV-1a 128 of the payload, hex>` for an
/// event without `_id` (a stable digest, so that bridges agree without talking).
pub fn msg_id(event: &MediaSessionEvent) -> String {
    let topic = event.topic_id().unwrap_or_default();
    match event.id() {
        Some(id) => format!("{topic}:{id}"),
        None => {
            let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
            for b in event.json().bytes() {
                hash ^= u128::from(b);
                hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013B);
            }
            format!("{topic}:~{hash:032x}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_escaped() {
        assert_eq!(
            token("5f1051f0f3ed772f915e19ed"),
            "5f1051f0f3ed772f915e19ed"
        );
        assert_eq!(token("a.b c*>~"), "a~2Eb~20c~2A~3E~7E");
        assert_eq!(token(""), "~");
        assert_eq!(token("é"), "~C3~A9");
    }

    #[test]
    fn subjects_and_ids() {
        let e = spaces_events::decode(
            br#"{"_id":"e1","topicId":"s.1","category":"app.event.attendee.added"}"#,
        )
        .unwrap();
        assert_eq!(
            subject("spaces", &e),
            "spaces.s~2E1.app.event.attendee.added"
        );
        assert_eq!(msg_id(&e), "s.1:e1");
        let odd = spaces_events::decode(br#"{"category":"..x","topicId":"t"}"#).unwrap();
        assert_eq!(subject("spaces", &odd), "spaces.t.~.~.x");
        let same = spaces_events::decode(br#"{"category":"..x","topicId":"t"}"#).unwrap();
        assert_eq!(msg_id(&odd), msg_id(&same));
        assert!(msg_id(&odd).starts_with("t:~") && msg_id(&odd).len() == 3 + 32);
    }
}
