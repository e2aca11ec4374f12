//! `spaces_events.MeetingState`'s native side: the Rust fold, changes out as JSON.

use std::sync::Mutex;

use pyo3::prelude::*;
use spaces_events::meeting::{self, Change};
use spaces_events::types::ActiveMeeting;

use crate::errors::config_error;
use crate::event::Event;

/// A space's meeting folded from events; see `spaces_events.MeetingState`.
#[pyclass(frozen, module = "spaces_events._native")]
pub(crate) struct MeetingState(Mutex<meeting::MeetingState>);

impl MeetingState {
    fn lines(state: &meeting::MeetingState, changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| {
                serde_json::to_string(&state.describe(c)).expect("a generated type serializes")
            })
            .collect()
    }
}

#[pymethods]
impl MeetingState {
    #[new]
    fn new(space: &str) -> Self {
        MeetingState(Mutex::new(meeting::MeetingState::new(space)))
    }

    /// The space id.
    #[getter]
    fn space(&self) -> String {
        self.0.lock().expect("state lock").space().to_owned()
    }

    /// Events of a category the schema does not know, so far.
    #[getter]
    fn unknown_events(&self) -> u64 {
        self.0.lock().expect("state lock").unknown_events()
    }

    /// Folds an event; the changes as JSON lines.
    fn apply(&self, event: &Event) -> Vec<String> {
        let mut state = self.0.lock().expect("state lock");
        let changes = state.apply(event.event());
        Self::lines(&state, &changes)
    }

    /// Takes the active meeting's JSON (`None`: no meeting); the changes as JSON lines.
    #[pyo3(signature = (meeting))]
    fn resync(&self, py: Python<'_>, meeting: Option<&str>) -> PyResult<Vec<String>> {
        let meeting: Option<ActiveMeeting> = meeting
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| config_error(py, format!("not an active-meeting document: {e}")))?;
        let mut state = self.0.lock().expect("state lock");
        let changes = state.resync(meeting.as_ref());
        Ok(Self::lines(&state, &changes))
    }

    /// The state now, as JSON.
    fn snapshot(&self) -> String {
        let state = self.0.lock().expect("state lock");
        serde_json::to_string(state.snapshot()).expect("a generated type serializes")
    }
}
