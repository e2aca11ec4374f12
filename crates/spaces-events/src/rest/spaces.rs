//! The spaces a token sees: `GET /users/me/spaces`, every page.

use std::collections::HashSet;

use serde_json::value::RawValue;

use super::{Answer, Rest, RestError};
use crate::types::Topic;

/// Spaces asked for per page.
const PAGE: usize = 100;

impl Rest {
    /// Every space (`topictype=group`) the token sees, in the API's order, each once: pages of
    /// `GET /users/me/spaces?topictype=group&size=100&skip=K` until one is short or empty, or
    /// `total` are listed. (The paging parameters are inferred from Avaya's own clients; a
    /// server that ignored `skip` would repeat its first page, which ends the listing rather
    /// than loop.)
    ///
    /// ```no_run
    /// # use spaces_events::rest::{Rest, PRODUCTION_API_URL};
    /// # async fn run() -> Result<(), spaces_events::rest::RestError> {
    /// let rest = Rest::builder(PRODUCTION_API_URL).token("eyJhbGciOi…").build()?;
    /// for space in rest.my_spaces().await? {
    ///     let topic = space.typed();
    ///     println!("{} {}", topic.id.as_deref().unwrap_or(""), topic.title.as_deref().unwrap_or(""));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// See [`RestError`]; a page that fails fails the listing (a partial list would drop the
    /// spaces not yet listed).
    pub async fn my_spaces(&self) -> Result<Vec<Answer<Topic>>, RestError> {
        /// A page, each space kept as sent (`TopicPage` with the spaces' JSON).
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            data: Vec<Box<RawValue>>,
            total: Option<u64>,
        }
        let mut spaces = Vec::new();
        let mut seen = HashSet::new();
        let mut offset = 0;
        loop {
            let path = format!(
                "/users/me/spaces?topictype=group&size={PAGE}&skip={}",
                offset
            );
            let call = format!("GET {path}");
            let body = self.get(&call, &path).await?;
            let bad = |e: serde_json::Error| RestError::Body {
                call: call.clone(),
                reason: e.to_string(),
            };
            let page: Page = serde_json::from_str(&body).map_err(bad)?;
            let listed = page.data.len();
            offset += listed;
            let before = spaces.len();
            for raw in page.data {
                let typed: Topic = serde_json::from_str(raw.get()).map_err(bad)?;
                if typed.id.as_ref().is_some_and(|id| seen.insert(id.clone())) {
                    spaces.push(Answer {
                        typed,
                        json: raw.get().to_owned(),
                    });
                }
            }
            let complete = page.total.is_some_and(|t| offset as u64 >= t);
            if listed < PAGE || spaces.len() == before || complete {
                return Ok(spaces);
            }
        }
    }
}
