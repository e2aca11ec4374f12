//! Bytes → [`MediaSessionEvent`], and what goes wrong on the way.

use std::fmt;

use crate::event::MediaSessionEvent;
use crate::strict::Strict;
use crate::types::MediaSessionResponse;
use crate::validate;

/// Decodes one MEDIA_SESSION_RESPONSE payload (a JSON object) from bytes or a string.
///
/// A payload is invalid only when it is not a JSON object, has no string `category`, or a field
/// the schema knows has the wrong JSON type. Everything else decodes: unknown fields (kept),
/// unknown categories ([`Category::Unknown`](crate::Category::Unknown), the string kept), absent
/// fields. Never panics, whatever the input.
///
/// ```
/// let event = spaces_events::decode(r#"{"category":"app.event.attendee.added","topicId":"s1",
///     "content":{"attendee":{"_id":"u1","displayname":"Ann"}},"x-new":1}"#)?;
/// assert_eq!(event.category(), spaces_events::Category::AttendeeAdded);
/// assert_eq!(event.attendee().and_then(|a| a.displayname.as_deref()), Some("Ann"));
/// assert!(event.json().ends_with(r#""x-new":1}"#)); // unknown fields are kept
/// # Ok::<(), spaces_events::DecodeError>(())
/// ```
///
/// # Errors
/// [`DecodeError`] says what is wrong and where: the JSON path of the offending value
/// (`content.attendees[2].displayname`) and its line and column.
pub fn decode(data: impl AsRef<[u8]>) -> Result<MediaSessionEvent, DecodeError> {
    let bytes = data.as_ref();
    let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::utf8(bytes, e))?;
    // serde_json's own limit (128 levels) applies. Only a failure pays for a second,
    // path-tracking parse.
    try_decode(text, usize::MAX).ok_or_else(|| DecodeError::locate(text))
}

/// [`decode`] of text, refusing JSON nested more than `depth` arrays and objects deep, without
/// explaining a failure (for callers that report it their own way).
pub(crate) fn try_decode(text: &str, depth: usize) -> Option<MediaSessionEvent> {
    validate::check(text, depth).map(|spans| MediaSessionEvent::new(text.into(), spans))
}

/// Why a payload did not decode.
///
/// Small (one pointer) so that `Result<MediaSessionEvent, DecodeError>` stays cheap to move.
#[derive(Clone)]
pub struct DecodeError(Box<Inner>);

#[derive(Clone)]
struct Inner {
    kind: DecodeErrorKind,
    path: String,
    message: String,
    line: usize,
    column: usize,
}

/// The class of a [`DecodeError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Not JSON at all: malformed or truncated text, or bytes that are not UTF-8.
    Syntax,
    /// Well-formed JSON that is not a payload: not an object, no string `category`, or a known
    /// field of the wrong type.
    Invalid,
}

impl DecodeError {
    /// Re-parses `text`, which failed the fast path, tracking the path to the failure.
    fn locate(text: &str) -> Self {
        let de = &mut serde_json::Deserializer::from_str(text);
        match serde_path_to_error::deserialize::<_, MediaSessionResponse>(Strict(&mut *de)) {
            Err(e) => {
                // `.` is the root; a trailing `?` an entry whose key was not read (the text ended).
                let mut path = e.path().to_string();
                while let Some(parent) = path.strip_suffix(".?") {
                    path.truncate(parent.len());
                }
                if path == "." || path == "?" {
                    path.clear();
                }
                Self::from_json(e.into_inner(), path)
            }
            Ok(_) => match de.end() {
                Err(e) => Self::from_json(e, String::new()),
                // The check refused what the typed view accepts: a bug, which the tests and
                // fuzzing look for.
                Ok(()) => {
                    debug_assert!(
                        false,
                        "the check refused what the typed view accepts: {text}"
                    );
                    Self::new(
                        DecodeErrorKind::Invalid,
                        String::new(),
                        "undecodable payload".into(),
                        0,
                        0,
                    )
                }
            },
        }
    }

    fn from_json(e: serde_json::Error, path: String) -> Self {
        use serde_json::error::Category;
        let kind = match e.classify() {
            Category::Data => DecodeErrorKind::Invalid,
            Category::Syntax | Category::Eof | Category::Io => DecodeErrorKind::Syntax,
        };
        // serde_json says column 0 for an error found before the first byte of a line.
        let (line, column) = (e.line(), if e.line() > 0 { e.column().max(1) } else { 0 });
        // serde_json appends the position to its message; it is kept in fields of its own.
        let mut message = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        if message.ends_with(&suffix) {
            message.truncate(message.len() - suffix.len());
        }
        Self::new(kind, path, message, line, column)
    }

    fn utf8(bytes: &[u8], e: std::str::Utf8Error) -> Self {
        let valid = &bytes[..e.valid_up_to()];
        let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + valid.len() - valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        Self::new(
            DecodeErrorKind::Syntax,
            String::new(),
            "invalid UTF-8".into(),
            line,
            column,
        )
    }

    fn new(
        kind: DecodeErrorKind,
        path: String,
        message: String,
        line: usize,
        column: usize,
    ) -> Self {
        Self(Box::new(Inner {
            kind,
            path,
            message,
            line,
            column,
        }))
    }

    /// The class of error.
    pub fn kind(&self) -> DecodeErrorKind {
        self.0.kind
    }

    /// JSON path of the offending value, such as `content.attendees[2].displayname`; empty when
    /// the problem is the payload as a whole (not an object, not JSON).
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// 1-based line of the input where the problem was found (0 when unknown).
    pub fn line(&self) -> usize {
        self.0.line
    }

    /// 1-based column of the input where the problem was found (0 when unknown).
    pub fn column(&self) -> usize {
        self.0.column
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Inner {
            path,
            message,
            line,
            column,
            ..
        } = &*self.0;
        if !path.is_empty() {
            write!(f, "{path}: ")?;
        }
        write!(f, "{message}")?;
        if *line > 0 {
            write!(f, " at line {line} column {column}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeError")
            .field("kind", &self.0.kind)
            .field("path", &self.0.path)
            .field("message", &self.0.message)
            .field("line", &self.0.line)
            .field("column", &self.0.column)
            .finish()
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_path_line_and_column() {
        let e = decode(
            "{\"category\":\"x\",\n\"content\":{\"attendees\":[{},{},{\"displayname\":5}]}}",
        )
        .unwrap_err();
        assert_eq!(e.kind(), DecodeErrorKind::Invalid);
        assert_eq!(e.path(), "content.attendees[2].displayname");
        assert_eq!((e.line(), e.column()), (2, 46));
        assert_eq!(
            e.to_string(),
            "content.attendees[2].displayname: invalid type: integer `5`, expected a string at line 2 column 46"
        );
    }

    #[test]
    fn error_classes() {
        assert_eq!(
            decode("{\"category\":").unwrap_err().kind(),
            DecodeErrorKind::Syntax
        );
        assert_eq!(
            decode("{\"category\":\"x\"} x").unwrap_err().kind(),
            DecodeErrorKind::Syntax
        );
        assert_eq!(
            decode(b"{\"category\":\"\xff\"}").unwrap_err().to_string(),
            "invalid UTF-8 at line 1 column 14"
        );
        let e = decode(r#"["app.event.meeting.started"]"#).unwrap_err();
        assert_eq!((e.kind(), e.path()), (DecodeErrorKind::Invalid, ""));
        assert_eq!(
            e.message(),
            "invalid type: sequence, expected struct MediaSessionResponse"
        );
        let e = decode(r#"{"category":"x","sender":["a","user"]}"#).unwrap_err();
        assert_eq!(
            (e.path(), e.message()),
            ("sender", "invalid type: sequence, expected struct Sender")
        );
        let e = decode("{}").unwrap_err();
        assert_eq!(e.message(), "missing field `category`");
        let e = decode(r#"{"category":null}"#).unwrap_err();
        assert_eq!(e.path(), "category");
    }

    #[test]
    fn error_is_one_pointer() {
        assert_eq!(size_of::<DecodeError>(), size_of::<usize>());
    }
}
