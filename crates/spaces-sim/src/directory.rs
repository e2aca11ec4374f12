//! What the simulator's REST API says about where things are: regional clusters
//! (`GET /flavor`, `GET /flavor/email/{email}`) and the spaces the token sees
//! (`GET /users/me/spaces`, paged, changing while it runs).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::Shared;
use crate::rest::{authorized, fault, unauthorized};

/// A regional cluster and who is routed to it.
#[derive(Clone, Debug)]
pub(crate) struct Flavor {
    pub(crate) id: String,
    pub(crate) apis: String,
    pub(crate) socket: String,
    pub(crate) emails: Vec<String>,
}

/// The largest page `GET /users/me/spaces` serves, whatever `size` asks.
const MAX_PAGE: usize = 100;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/flavor", get(flavors))
        .route("/api/flavor/email/{email}", get(flavor_for))
        .route("/api/users/me/spaces", get(my_spaces))
}

async fn flavors(State(shared): State<Arc<Shared>>) -> Response {
    if let Some(response) = fault(&shared).await {
        return response;
    }
    let list: Vec<_> = shared
        .flavors
        .iter()
        .map(|f| json!({ "flavorId": f.id, "urls": { "apis": f.apis, "socket": f.socket } }))
        .collect();
    axum::Json(list).into_response()
}

async fn flavor_for(State(shared): State<Arc<Shared>>, Path(email): Path<String>) -> Response {
    if let Some(response) = fault(&shared).await {
        return response;
    }
    let found = shared.flavors.iter().find(|f| f.emails.contains(&email));
    axum::Json(match found {
        Some(flavor) => json!({ "useGlobal": false, "flavorId": flavor.id }),
        None => json!({ "useGlobal": true }),
    })
    .into_response()
}

/// `?topictype=group&size=N&skip=K`: the spaces set by `Sim::set_spaces`, in order.
async fn my_spaces(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(response) = fault(&shared).await {
        return response;
    }
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    shared.listings.fetch_add(1, Ordering::Relaxed);
    let number = |name: &str, default: usize| {
        query
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let size = number("size", 20).clamp(1, MAX_PAGE);
    let skip = number("skip", 0);
    let spaces = shared.spaces.lock().expect("spaces lock");
    let page: Vec<_> = spaces
        .iter()
        .skip(skip)
        .take(size)
        .map(|id| json!({ "_id": id, "title": format!("Space {id}"), "type": "group" }))
        .collect();
    axum::Json(json!({ "data": page, "total": spaces.len() })).into_response()
}
