//! Rust errors as the exceptions of `spaces_events._errors` (defined in Python, where an
//! exception can have two bases: `DecodeError` is a `SpacesError` and a `ValueError`).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use spaces_events::DecodeError;
use spaces_events::client::Error;
use spaces_events::rest::RestError;

fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module =
        ERRORS.get_or_try_init(py, || py.import("spaces_events._errors").map(Bound::unbind))?;
    module.bind(py).getattr(name)
}

fn raise<'py>(py: Python<'py>, name: &str, args: impl pyo3::call::PyCallArgs<'py>) -> PyErr {
    match class(py, name).and_then(|cls| cls.call1(args)) {
        Ok(exception) => PyErr::from_value(exception),
        Err(e) => e,
    }
}

/// `DecodeError(message, path, line, column)`; `str()` is Rust's `Display`.
pub(crate) fn decode_error(py: Python<'_>, e: &DecodeError) -> PyErr {
    raise(
        py,
        "DecodeError",
        (e.to_string(), e.message(), e.path(), e.line(), e.column()),
    )
}

/// The exception for a client error.
pub(crate) fn client_error(py: Python<'_>, e: Error) -> PyErr {
    match &e {
        Error::Decode(d) => decode_error(py, d),
        Error::Auth(_) => raise(py, "AuthError", (e.to_string(),)),
        Error::SubscribeRefused {
            space,
            code,
            message,
        } => raise(
            py,
            "SubscribeError",
            (
                e.to_string(),
                space.as_str(),
                code.as_str(),
                message.as_str(),
            ),
        ),
        e if e.is_config() => config_error(py, e),
        Error::Proxy { proxy, status, .. } => {
            raise(py, "ProxyError", (e.to_string(), proxy.as_str(), *status))
        }
        Error::Closed | Error::AlreadySubscribed(_) | Error::SendQueueFull(_) => {
            raise(py, "SpacesError", (e.to_string(),))
        }
        _ => raise(py, "TransportError", (e.to_string(),)),
    }
}

/// `ConfigError(message)`: an option or argument given to the client is invalid.
pub(crate) fn config_error(py: Python<'_>, message: impl std::fmt::Display) -> PyErr {
    raise(py, "ConfigError", (message.to_string(),))
}

/// The exception for a REST error: `AuthError` (401/403), `NotFoundError` (404),
/// `TransportError` (unavailable after retries), `ConfigError`, else `SpacesError`.
pub(crate) fn rest_error(py: Python<'_>, e: &RestError) -> PyErr {
    let name = match e {
        RestError::Auth { .. } => "AuthError",
        RestError::NotFound { .. } => "NotFoundError",
        RestError::Unavailable { .. } => "TransportError",
        RestError::Config(_) => "ConfigError",
        RestError::Credentials { .. } => "AuthError",
        _ => "SpacesError",
    };
    raise(py, name, (e.to_string(),))
}

/// The exception for a token source's failure: `AuthError` when the credentials must be fixed
/// (a refused refresh token, a bad credentials file), else `TransportError` (retry later).
pub(crate) fn auth_error(py: Python<'_>, e: &spaces_events::auth::AuthError) -> PyErr {
    let name = if e.is_fatal() {
        "AuthError"
    } else {
        "TransportError"
    };
    raise(py, name, (e.to_string(),))
}
