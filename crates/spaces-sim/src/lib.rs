//! A local simulator of the Avaya Spaces socket server, for trying and testing Spaces
//! integrations without an account or a meeting.
//!
//! Built on socketioxide (feature `v4`: Socket.IO 2 over Engine.IO 3), it behaves like the Spaces
//! socket server: namespace `/chat`, the token checked from the query (`token`, `tokenType` `jwt`
//! or `oauth`), SUBSCRIBE_CHANNEL answered with CHANNEL_SUBSCRIBED or SUBSCRIBE_CHANNEL_FAILED,
//! UNSUBSCRIBE_CHANNEL, SEND_MEDIA_SESSION_EVENTS relayed as MEDIA_SESSION_RESPONSE, and a
//! [`Scenario`] of MEDIA_SESSION_RESPONSE events played to the subscribers of each space,
//! starting at the first subscription. Fault knobs drop connections, go silent, inject malformed
//! frames and reject tokens.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = spaces_sim::Simulator::new().start().await?;
//! println!("connect to {} with token {}", sim.url(), sim.token());
//! # Ok(()) }
//! ```
//!
//! Differences from the real socket.io 2.0.4 server: the open packet also carries `maxPayload`;
//! `40` for `/` is always sent; namespace errors are objects (`44/chat,{"message":"…"}`), not bare
//! strings; on a heartbeat timeout or protocol error the server sends `1` before closing.

mod auth;
mod chat;
mod directory;
mod proxy;
mod rest;
mod scenario;
mod store;

pub use auth::Expiry;
pub use proxy::FaultProxy;
pub use rest::RestFault;
pub use store::{DocumentId, Identity, MessageIds, Store};

use std::collections::{HashMap, HashSet};

use auth::Tokens;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use socketioxide::handler::ConnectHandler;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use chat::{emit, play, play_once};

pub use scenario::{DEMO_SPACE, MEDIA_SESSION_RESPONSE, Scenario, ScenarioError, Step};

/// The token the simulator accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "sim-token";

/// What the simulator plays.
#[derive(Clone, Debug)]
enum Source {
    /// The built-in meeting, with fresh timestamps on every play.
    Meeting,
    File(Scenario),
}

impl Source {
    fn scenario(&self) -> Scenario {
        match self {
            Source::Meeting => Scenario::meeting(SystemTime::now()),
            Source::File(scenario) => scenario.clone(),
        }
    }
}

/// Configures a simulator.
#[derive(Clone, Debug)]
pub struct Simulator {
    addr: SocketAddr,
    api_addr: SocketAddr,
    tokens: Vec<String>,
    source: Source,
    looping: bool,
    /// The scenario waits for the first subscription (else it starts with the simulator).
    on_subscribe: bool,
    ping_interval: Duration,
    ping_timeout: Duration,
    identity: Option<Identity>,
    flavors: Vec<directory::Flavor>,
    token_lifetime: Option<Duration>,
    expiry: Expiry,
}

impl Default for Simulator {
    fn default() -> Self {
        Simulator::new()
    }
}

impl Simulator {
    /// 127.0.0.1 on a free port, token [`DEFAULT_TOKEN`], the built-in meeting played once,
    /// socket.io 2.0.4's heartbeat (25 s / 60 s).
    pub fn new() -> Self {
        Simulator {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tokens: vec![DEFAULT_TOKEN.to_owned()],
            source: Source::Meeting,
            looping: false,
            on_subscribe: true,
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(60),
            identity: None,
            flavors: Vec::new(),
            token_lifetime: None,
            expiry: Expiry::Keep,
        }
    }

    /// Where to listen.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Where the REST API listens (its own port).
    pub fn api_addr(mut self, addr: SocketAddr) -> Self {
        self.api_addr = addr;
        self
    }

    /// The one token accepted.
    pub fn token(mut self, token: &str) -> Self {
        self.tokens = vec![token.to_owned()];
        self
    }

    /// Tokens live this long: the accepted ones from the start (and from each
    /// [`Sim::set_tokens`] or [`Sim::rotate_tokens`]), every guest token (its JWT's `exp`
    /// says so) and every OAuth2 access token (`expires_in`). Forever by default.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = Some(lifetime);
        self
    }

    /// What happens when the token of an open connection expires: nothing until it
    /// reconnects ([`Expiry::Keep`], the default) or the connection is closed
    /// ([`Expiry::Close`]). Spaces' behaviour is undocumented.
    pub fn expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// Plays `scenario` instead of the built-in meeting.
    pub fn scenario(mut self, scenario: Scenario) -> Self {
        self.source = Source::File(scenario);
        self
    }

    /// Plays the scenario again and again (2 s apart).
    pub fn looping(mut self, on: bool) -> Self {
        self.looping = on;
        self
    }

    /// Starts the scenario when the first client subscribes (`true`, the default), or as soon as
    /// the simulator starts (`false`).
    pub fn start_on_subscribe(mut self, on: bool) -> Self {
        self.on_subscribe = on;
        self
    }

    /// The heartbeat the open packet announces.
    pub fn heartbeat(mut self, ping_interval: Duration, ping_timeout: Duration) -> Self {
        (self.ping_interval, self.ping_timeout) = (ping_interval, ping_timeout);
        self
    }

    /// Names meetings as `identity` says in every MEDIA_SESSION_RESPONSE sent and in the
    /// active-meeting documents, whatever `messageId` and `content.meetingId` the payloads
    /// had. Without it (the default) payloads go as given and a document's `_id` is the
    /// `content.meetingId`, else the `messageId`, of the event that made it.
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Serves a regional cluster ("flavor") `id` in `GET /flavor`, at `apis` (a REST server,
    /// its API under `/api`) and `socket` (a socket server, e.g. another simulator's
    /// `http://127.0.0.1:PORT`), and routes `emails` to it in `GET /flavor/email/{email}`
    /// (any other address: `useGlobal`).
    pub fn flavor(mut self, id: &str, apis: &str, socket: &str, emails: &[&str]) -> Self {
        self.flavors.push(directory::Flavor {
            id: id.to_owned(),
            apis: apis.to_owned(),
            socket: socket.to_owned(),
            emails: emails.iter().map(|e| (*e).to_owned()).collect(),
        });
        self
    }

    /// Starts serving; stops when the returned [`Sim`] is dropped.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start(self) -> std::io::Result<Sim> {
        let shared = Arc::new(Shared {
            tokens: Mutex::new(Tokens::new(&self.tokens, self.token_lifetime)),
            expired: AtomicUsize::new(0),
            refreshes: AtomicUsize::new(0),
            refused: Mutex::new(HashSet::new()),
            subscribed: watch::Sender::new(HashMap::new()),
            unsubscribed: watch::Sender::new(HashMap::new()),
            connections: AtomicUsize::new(0),
            rejections: AtomicUsize::new(0),
            store: Mutex::new(Store::new(self.identity)),
            rest_fault: Mutex::new(RestFault::None),
            guests: AtomicUsize::new(0),
            urls: OnceLock::new(),
            flavors: self.flavors,
            spaces: Mutex::new(Vec::new()),
            listings: AtomicUsize::new(0),
        });
        let (layer, io) = SocketIo::builder()
            .ping_interval(self.ping_interval)
            .ping_timeout(self.ping_timeout)
            .with_state(shared.clone())
            .build_layer();
        io.ns("/", async |_: SocketRef| {});
        io.ns("/chat", (async |_: SocketRef| {}).with(chat::authenticate));

        let inner = TcpListener::bind(("127.0.0.1", 0)).await?;
        let upstream = inner.local_addr()?;
        let public = TcpListener::bind(self.addr).await?;
        let addr = public.local_addr()?;
        let api = TcpListener::bind(self.api_addr).await?;
        let api_url = format!("http://{}/api", api.local_addr()?);
        let url = format!("http://{addr}/chat");
        let _ = shared.urls.set((api_url.clone(), format!("http://{addr}")));
        let router = rest::router(shared.clone());
        let (played, finished) = watch::channel(0usize);
        let scenario = self.source.scenario();
        let mut tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(inner, axum::Router::new().layer(layer)).await;
            }),
            tokio::spawn(async move {
                let _ = axum::serve(api, router).await;
            }),
            tokio::spawn(play(
                io.clone(),
                shared.clone(),
                self.source,
                self.looping,
                self.on_subscribe,
                played,
            )),
        ];
        if self.expiry == Expiry::Close {
            tasks.push(tokio::spawn(auth::sweep(io.clone(), shared.clone())));
        }
        Ok(Sim {
            url,
            api_url,
            token: self.tokens.first().cloned().unwrap_or_default(),
            scenario,
            io,
            shared,
            proxy: FaultProxy::serve(public, upstream),
            finished,
            tasks,
        })
    }
}

/// State the socket handlers share.
#[derive(Debug)]
struct Shared {
    tokens: Mutex<Tokens>,
    /// Connections closed because their token expired ([`Expiry::Close`]).
    expired: AtomicUsize,
    /// OAuth2 access tokens issued (by code or refresh).
    refreshes: AtomicUsize,
    refused: Mutex<HashSet<String>>,
    /// Subscriptions accepted so far, per space; the scenario starts at the first.
    subscribed: watch::Sender<HashMap<String, usize>>,
    /// UNSUBSCRIBE_CHANNELs so far, per space.
    unsubscribed: watch::Sender<HashMap<String, usize>>,
    connections: AtomicUsize,
    rejections: AtomicUsize,
    /// Each space's active-meeting document, kept from every emitted event.
    store: Mutex<Store>,
    rest_fault: Mutex<RestFault>,
    guests: AtomicUsize,
    /// The API URL and the socket server's URL, for `service-configurations`.
    urls: OnceLock<(String, String)>,
    flavors: Vec<directory::Flavor>,
    /// What `GET /users/me/spaces` lists, in order.
    spaces: Mutex<Vec<String>>,
    /// `GET /users/me/spaces` calls so far.
    listings: AtomicUsize,
}

/// A running simulator. Dropping it stops it.
#[derive(Debug)]
pub struct Sim {
    url: String,
    api_url: String,
    token: String,
    scenario: Scenario,
    io: SocketIo,
    shared: Arc<Shared>,
    /// The front door; dropped with the simulator, it closes the clients' connections.
    proxy: FaultProxy,
    finished: watch::Receiver<usize>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sim {
    /// `http://127.0.0.1:PORT/chat`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http://127.0.0.1:PORT/api`: the REST API (`POST /anonymous/auth`,
    /// `GET /spaces/{id}/join`, `GET /spaces/{id}/activemeeting`, `GET /service-configurations`,
    /// `GET /flavor`, `GET /flavor/email/{email}`, `GET /users/me/spaces`).
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The token it accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The scenario (for the built-in meeting: its first play).
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Resolves once the scenario has been played `n` times.
    pub async fn played(&self, n: usize) {
        let _ = self.finished.clone().wait_for(|&plays| plays >= n).await;
    }

    /// Emits `payload` as `event` to the subscribers of its `topicId` (a MEDIA_SESSION_RESPONSE
    /// named as the [`identity`](Simulator::identity) says); returns how many connections
    /// it went to.
    pub async fn emit(&self, event: &str, payload: &Value) -> usize {
        emit(&self.io, &self.shared, event, payload).await
    }

    /// Keeps what the MEDIA_SESSION_RESPONSE `payload` says in the active-meeting documents,
    /// as if the simulator had sent it, and returns it named as the
    /// [`identity`](Simulator::identity) says: for a test in which another server (the Node
    /// socket.io peer) sends the events and this one serves the REST API.
    pub fn keep(&self, payload: &Value) -> Value {
        let mut payload = payload.clone();
        self.shared
            .store
            .lock()
            .expect("store lock")
            .keep(&mut payload);
        payload
    }

    /// The reading meetings are named by, if one was set.
    pub fn identity(&self) -> Option<Identity> {
        self.shared.store.lock().expect("store lock").identity()
    }

    /// Plays `scenario` now, `speed` times as fast as its timestamps say (`f64::INFINITY`:
    /// every step at once), and resolves after its last step. Independent of the scenario the simulator was started
    /// with.
    pub async fn play(&self, scenario: &Scenario, speed: f64) {
        play_once(&self.io, &self.shared, scenario, speed).await;
    }

    /// Resolves once `n` subscriptions to `space` have been accepted (re-subscriptions after
    /// reconnects count): emit after this and the subscriber gets it.
    pub async fn subscribed(&self, space: &str, n: usize) {
        let mut counts = self.shared.subscribed.subscribe();
        let _ = counts
            .wait_for(|counts| counts.get(space).is_some_and(|&count| count >= n))
            .await;
    }

    /// Resolves once `space` has been unsubscribed (UNSUBSCRIBE_CHANNEL) `n` times: events
    /// sent to it after this reach nobody who left.
    pub async fn unsubscribed(&self, space: &str, n: usize) {
        let mut counts = self.shared.unsubscribed.subscribe();
        let _ = counts
            .wait_for(|counts| counts.get(space).is_some_and(|&count| count >= n))
            .await;
    }

    /// Closes every connection (clients see a transport close).
    pub fn drop_connections(&self) {
        self.proxy.drop_connections();
    }

    /// Closes every connection and refuses new ones for `duration`, while scenarios and
    /// [`emit`](Self::emit) go on: the clients miss what happens meanwhile, and find it in the
    /// active meeting when they are back.
    pub fn away(&self, duration: Duration) {
        self.proxy.refuse(duration);
        self.proxy.drop_connections();
    }

    /// The active-meeting document of `space` (what `GET /api/spaces/{space}/activemeeting`
    /// answers), or `None` (404).
    pub fn active_meeting(&self, space: &str) -> Option<Value> {
        self.shared
            .store
            .lock()
            .expect("store lock")
            .document(space)
            .cloned()
    }

    /// Makes every REST call fail, hang, or (with [`RestFault::None`]) work again.
    pub fn rest_fault(&self, fault: RestFault) {
        *self.shared.rest_fault.lock().expect("fault lock") = fault;
    }

    /// Swallows all traffic, both ways, for `duration`: a half-open link.
    pub fn silence(&self, duration: Duration) {
        self.proxy.silence(duration);
    }

    /// Sends `text` as a websocket text frame to every client, as is (e.g. a truncated packet
    /// `42/chat,["MEDIA_SESSION_RESPONSE",{"category":`).
    pub fn inject_frame(&self, text: &str) {
        self.proxy.inject(text);
    }

    /// Replaces the accepted tokens (none: every connection is rejected); with a
    /// [`token_lifetime`](Simulator::token_lifetime) they live that long from now.
    pub fn set_tokens(&self, tokens: &[&str]) {
        let tokens: Vec<String> = tokens.iter().map(|t| (*t).to_owned()).collect();
        self.shared.tokens.lock().expect("token lock").set(&tokens);
    }

    /// A new token, the only one accepted from now on (for the lifetime, if any): every
    /// token accepted before — guest and OAuth2 access tokens included — is refused, and under
    /// [`Expiry::Close`] the connections made with one are closed. As a secret rotated by its
    /// owner; OAuth2 refresh tokens still work.
    pub fn rotate_tokens(&self) -> String {
        let mut tokens = self.shared.tokens.lock().expect("token lock");
        let token = format!("sim-token-{}-{:08x}", tokens.next(), fastrand::u32(..));
        tokens.set(&[]);
        tokens.add(token.clone());
        token
    }

    /// Revokes every token and OAuth2 refresh token: the next refresh is refused
    /// (`invalid_grant`), as after a user removed the application's access.
    pub fn revoke(&self) {
        self.shared.tokens.lock().expect("token lock").revoke();
    }

    /// The identity provider's URL, `http://127.0.0.1:PORT` (the REST API's server):
    /// `/oauth2/authorize` (approves at once; PKCE S256 required), `/oauth2/access_token`
    /// (`authorization_code`, `refresh_token` with rotation), `/oauth2/revoke_token`.
    pub fn identity_url(&self) -> &str {
        self.api_url.trim_end_matches("/api")
    }

    /// Whether `token` is accepted now.
    pub fn accepts(&self, token: &str) -> bool {
        self.shared
            .tokens
            .lock()
            .expect("token lock")
            .accepts(token)
    }

    /// Tokens issued so far: guest tokens, OAuth2 access tokens, rotations.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.tokens.lock().expect("token lock").issued()
    }

    /// Every token issued so far — guest, rotated, OAuth2 access and refresh tokens — for a
    /// test that none is ever shown.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared
            .tokens
            .lock()
            .expect("token lock")
            .history
            .clone()
    }

    /// OAuth2 access tokens issued so far (the first by code, then one per refresh).
    pub fn oauth_tokens_issued(&self) -> usize {
        self.shared.refreshes.load(Ordering::SeqCst)
    }

    /// Connections closed because their token expired (under [`Expiry::Close`]).
    pub fn expired_connections(&self) -> usize {
        self.shared.expired.load(Ordering::SeqCst)
    }

    /// The spaces `GET /users/me/spaces` lists from now on (paged by `size` and `skip`).
    pub fn set_spaces<S: AsRef<str>>(&self, spaces: &[S]) {
        *self.shared.spaces.lock().expect("spaces lock") =
            spaces.iter().map(|s| s.as_ref().to_owned()).collect();
    }

    /// `GET /users/me/spaces` calls answered so far (one per page).
    pub fn space_listings(&self) -> usize {
        self.shared.listings.load(Ordering::Relaxed)
    }

    /// Refuses subscriptions to `space` (SUBSCRIBE_CHANNEL_FAILED `not.a.member`).
    pub fn refuse_space(&self, space: &str) {
        self.shared
            .refused
            .lock()
            .expect("refused lock")
            .insert(space.to_owned());
    }

    /// Namespace connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Subscriptions accepted so far (re-subscriptions after reconnects included).
    pub fn subscriptions(&self) -> usize {
        self.shared.subscribed.borrow().values().sum()
    }

    /// Subscriptions to `space` accepted so far.
    pub fn subscriptions_to(&self, space: &str) -> usize {
        self.shared
            .subscribed
            .borrow()
            .get(space)
            .copied()
            .unwrap_or(0)
    }

    /// Namespace connections rejected (bad token) so far.
    pub fn rejections(&self) -> usize {
        self.shared.rejections.load(Ordering::SeqCst)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}
