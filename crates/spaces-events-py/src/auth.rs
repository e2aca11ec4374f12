//! `spaces_events.auth`'s native side: the Rust token sources, shared with the clients.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use spaces_events::auth::{self, OAuth2, TokenCommand, TokenFile};
use spaces_events::client::Roots;

use crate::client::{Outcome, Pending};

/// A token source (`TokenFile`, `TokenCommand`, `OAuth2` of `spaces_events.auth`).
#[pyclass(frozen, module = "spaces_events._native")]
pub(crate) struct Credentials {
    pub(crate) source: Arc<dyn auth::Credentials>,
}

#[pymethods]
impl Credentials {
    /// A token file, read again each time.
    #[staticmethod]
    fn token_file(path: PathBuf) -> Credentials {
        Credentials {
            source: Arc::new(TokenFile::new(path)),
        }
    }

    /// A credential helper run by `sh -c`.
    #[staticmethod]
    fn token_command(command: String) -> Credentials {
        Credentials {
            source: Arc::new(TokenCommand::new(command)),
        }
    }

    /// OAuth2 credentials from a file `spaces-events login` wrote.
    #[staticmethod]
    #[pyo3(signature = (path, ca_certificate=None, proxy=None, no_proxy=false))]
    fn oauth2(
        path: PathBuf,
        ca_certificate: Option<Vec<u8>>,
        proxy: Option<String>,
        no_proxy: bool,
    ) -> Credentials {
        let mut oauth = OAuth2::new(path).roots(Roots::WebPkiAndNative);
        if let Some(pem) = &ca_certificate {
            oauth = oauth.add_root_certificate(pem);
        }
        if proxy.is_some() || no_proxy {
            oauth = oauth.proxy(proxy.as_deref());
        }
        Credentials {
            source: Arc::new(oauth),
        }
    }

    /// A token now (the source's current one, renewed if due).
    fn token(&self) -> PyResult<Pending> {
        let source = self.source.clone();
        Pending::spawn(async move {
            match source.token(None).await {
                Ok(token) => Outcome::Json(Some(token.expose().to_owned())),
                Err(e) => Outcome::AuthFailed(e),
            }
        })
    }

    /// Where its tokens come from.
    fn describe(&self) -> String {
        self.source.describe()
    }

    /// How its tokens are sent: `"jwt"` or `"oauth"`.
    fn token_type(&self) -> &'static str {
        self.source.token_type().as_str()
    }
}
