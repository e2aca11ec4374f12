//! [`Text`]: the UTF-8 bytes an event keeps, shared with the websocket frame they arrived in.

use bytes::Bytes;

/// UTF-8 text in shared bytes: a payload's slice of the frame it arrived in (no copy), or a
/// copy of text from elsewhere. Cloning shares the bytes.
///
/// A slice keeps its frame's allocation alive; the client reads frames into small chunks
/// (`client::websocket`), so an event kept for long pins little more than itself.
#[derive(Clone)]
pub(crate) struct Text(Bytes);

impl Text {
    /// A copy of `text`.
    pub(crate) fn copy(text: &str) -> Self {
        Text(Bytes::copy_from_slice(text.as_bytes()))
    }

    /// The text of a websocket frame, shared.
    #[cfg(feature = "client")]
    pub(crate) fn frame(frame: tokio_tungstenite::tungstenite::Utf8Bytes) -> Self {
        Text(frame.into())
    }

    pub(crate) fn as_str(&self) -> &str {
        // SAFETY: every `Text` holds UTF-8: a `&str`'s bytes, a `Utf8Bytes` (checked by
        // tungstenite), or a slice of either at the bounds of a `&str` within it (`slice`).
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The bytes, shared.
    pub(crate) fn bytes(&self) -> Bytes {
        self.0.clone()
    }

    /// `part`, a slice of [`as_str`](Self::as_str), sharing these bytes (a copy when `part` is
    /// not within them).
    pub(crate) fn slice(&self, part: &str) -> Self {
        let start = (part.as_ptr() as usize).wrapping_sub(self.0.as_ptr() as usize);
        match self.0.len().checked_sub(start) {
            Some(room) if room >= part.len() => Text(self.0.slice(start..start + part.len())),
            _ => Text::copy(part),
        }
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text::copy(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_share_and_strangers_copy() {
        let text = Text::copy("42[\"e\",{\"a\":\"é\"}]");
        let part = &text.as_str()[7..17];
        let slice = text.slice(part);
        assert_eq!(slice.as_str(), "{\"a\":\"é\"}");
        assert_eq!(slice.as_str().as_ptr(), part.as_ptr());
        let stranger = text.slice("{\"a\":1}");
        assert_eq!(stranger.as_str(), "{\"a\":1}");
    }
}
