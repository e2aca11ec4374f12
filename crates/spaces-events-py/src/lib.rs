//! The native module `spaces_events._native`: the Rust core for the `spaces_events` Python
//! package (`python/spaces_events/`), which wraps it in a Pythonic API.

mod auth;
mod client;
mod errors;
mod event;
mod events;
mod json;
mod meeting;
mod node;
mod rest;
mod sim;

use pyo3::prelude::*;

/// The native part of `spaces_events`.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::auth::Credentials;
    #[pymodule_export]
    use super::client::{Connection, Pending};
    #[pymodule_export]
    use super::events::Events;
    /// The production socket server (the path is the namespace).
    #[pymodule_export]
    const PRODUCTION_URL: &str = spaces_events::client::PRODUCTION_URL;
    /// The staging socket server.
    #[pymodule_export]
    const STAGING_URL: &str = spaces_events::client::STAGING_URL;
    /// The package's version (`spaces_events.__version__`).
    #[pymodule_export]
    const VERSION: &str = env!("CARGO_PKG_VERSION");
    #[pymodule_export]
    use super::meeting::MeetingState;
    #[pymodule_export]
    use super::rest::RestClient;
    #[pymodule_export]
    use super::sim::{Simulator, identities};
    /// The production REST API.
    #[pymodule_export]
    const PRODUCTION_API_URL: &str = spaces_events::rest::PRODUCTION_API_URL;
    /// The staging REST API.
    #[pymodule_export]
    const STAGING_API_URL: &str = spaces_events::rest::STAGING_API_URL;
    /// The space the simulator's built-in meeting happens in.
    #[pymodule_export]
    const DEMO_SPACE: &str = spaces_sim::DEMO_SPACE;
    #[pymodule_export]
    use super::event::{Content, Event, MediaSession, Party, Recording, decode};
}
