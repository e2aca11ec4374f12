//! Where a tenant's Spaces is: regional clusters ("flavors") and the service configurations.

use reqwest::Method;

use super::{Answer, Rest, RestError, parse, segment};
use crate::types::{Flavor, FlavorRouting};

/// Where to connect, as [`Rest::discover`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// The socket URL with its namespace, `wss://…/chat`, for
    /// [`Client::builder`](crate::client::Client::builder).
    pub socket_url: String,
    /// The REST API URL (`…/api`) of the same cluster.
    pub api_url: String,
    /// The regional cluster (`flavorId`), when the user is routed to one.
    pub flavor: Option<String>,
}

/// `https://host` → `wss://host/chat` (a URL that names a path keeps it).
fn socket_url(server: &str) -> String {
    let server = server.trim_end_matches('/');
    let url = match server.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}"),
        Some(("http", rest)) => format!("ws://{rest}"),
        _ => server.to_owned(),
    };
    let path = url.split_once("://").map_or("", |(_, rest)| rest);
    if path.contains('/') {
        url
    } else {
        format!("{url}/chat")
    }
}

impl Rest {
    /// `GET /flavor`: the regional clusters (a JSON array, or `{"data": [...]}`: the shape is
    /// undocumented, both are read).
    ///
    /// # Errors
    /// See [`RestError`].
    pub async fn flavors(&self) -> Result<Vec<Flavor>, RestError> {
        let call = "GET /flavor";
        let body = self.get(call, "/flavor").await?;
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum List {
            Bare(Vec<Flavor>),
            Data { data: Vec<Flavor> },
        }
        match parse::<List>(call, body)?.typed {
            List::Bare(flavors) | List::Data { data: flavors } => Ok(flavors),
        }
    }

    /// `GET /flavor/email/{email}`: which cluster serves `email`.
    ///
    /// # Errors
    /// See [`RestError`].
    pub async fn flavor_for(&self, email: &str) -> Result<Answer<FlavorRouting>, RestError> {
        let path = format!("/flavor/email/{}", segment(email));
        let call = format!("GET {path}");
        let body = self.get(&call, &path).await?;
        parse(&call, body)
    }

    /// Resolves where to connect before connecting. With `email` (the organiser of the spaces
    /// to follow, or the bot's own address), its cluster first, as Avaya's own clients route:
    /// `GET /flavor/email/{email}`, and unless `useGlobal`, that flavor's hosts from
    /// `GET /flavor`. Otherwise (or when the cluster is global), `GET /service-configurations`'s
    /// `spaces.socketio_server_url`, with this client's API URL.
    ///
    /// ```no_run
    /// use spaces_events::client::Client;
    /// use spaces_events::rest::{PRODUCTION_API_URL, Rest};
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let token = std::env::var("SPACES_TOKEN")?;
    /// let rest = Rest::builder(PRODUCTION_API_URL).token(token.as_str()).build()?;
    /// let found = rest.discover(Some("organizer@example.com")).await?;
    /// let client = Client::builder(&found.socket_url, token.as_str()).connect().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`RestError::Body`] when the answers name no socket server (or an unknown flavor); see
    /// [`RestError`] for the rest.
    pub async fn discover(&self, email: Option<&str>) -> Result<Endpoints, RestError> {
        if let Some(email) = email {
            let routing = self.flavor_for(email).await?;
            let routing = routing.typed();
            if routing.use_global != Some(true) {
                let id = routing.flavor_id.clone().ok_or_else(|| RestError::Body {
                    call: format!("GET /flavor/email/{}", segment(email)),
                    reason: "neither useGlobal nor a flavorId".into(),
                })?;
                let flavors = self.flavors().await?;
                let urls = flavors
                    .into_iter()
                    .find(|f| f.flavor_id.as_deref() == Some(id.as_str()))
                    .and_then(|f| f.urls);
                let (Some(apis), Some(socket)) = urls.map_or((None, None), |u| (u.apis, u.socket))
                else {
                    return Err(RestError::Body {
                        call: "GET /flavor".into(),
                        reason: format!("no flavor {id:?} with urls.apis and urls.socket"),
                    });
                };
                return Ok(Endpoints {
                    socket_url: socket_url(&socket),
                    api_url: format!("{}/api", apis.trim_end_matches('/')),
                    flavor: Some(id),
                });
            }
        }
        let call = "GET /service-configurations";
        let socket = self
            .service_configurations()
            .await?
            .typed()
            .spaces
            .as_ref()
            .and_then(|s| s.socketio_server_url.clone())
            .ok_or_else(|| RestError::Body {
                call: call.into(),
                reason: "no spaces.socketio_server_url".into(),
            })?;
        Ok(Endpoints {
            socket_url: socket_url(&socket),
            api_url: self.api_url().to_owned(),
            flavor: None,
        })
    }

    /// A GET with the token when this client has one; the body of its 2xx answer.
    pub(super) async fn get(&self, call: &str, path: &str) -> Result<String, RestError> {
        let authorized = self.inner.token.is_some();
        let reply = self
            .call(Method::GET, path, call, None, authorized, &[])
            .await?;
        Self::ok(call, reply)
    }
}

#[cfg(test)]
mod tests {
    use super::socket_url;

    #[test]
    fn socket_urls() {
        assert_eq!(
            socket_url("https://spacesapis-socket.avayacloud.com"),
            "wss://spacesapis-socket.avayacloud.com/chat"
        );
        assert_eq!(
            socket_url("http://127.0.0.1:4000/"),
            "ws://127.0.0.1:4000/chat"
        );
        assert_eq!(socket_url("wss://eu.example/chat"), "wss://eu.example/chat");
    }
}
