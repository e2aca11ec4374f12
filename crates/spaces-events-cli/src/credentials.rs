//! Where every command gets its token and whom it trusts: `--token-file`, `--token-command`,
//! `--credentials` (OAuth2), `SPACES_TOKEN`, `--guest`, `--token`; the roots (Mozilla's and
//! the system's) and `--ca-file`/`SSL_CERT_FILE`; and `login`/`logout`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::{Args, ValueEnum};
use spaces_events::auth::{
    AuthError, Credentials, OAuth2, Token, TokenCommand, TokenFile, TokenFuture, TokenType,
};
use spaces_events::client::{Builder, Roots};
use spaces_events::rest::{Rest, RestBuilder};
use spaces_events::webhook::WebhookBuilder;
use spaces_events_nats::telemetry;

/// The token options of every command that connects.
#[derive(Args)]
pub(crate) struct TokenArgs {
    /// Watch as a guest with this display name: a guest token from the REST API
    /// (`POST /anonymous/auth`, no account), renewed before it expires. Public spaces only.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["token_file", "token", "token_command", "credentials"])]
    guest: Option<String>,
    /// How the token is sent (`tokenType`); `oauth` with --credentials.
    #[arg(long, value_enum, default_value_t = Kind::Jwt)]
    token_type: Kind,
    /// Read the token from this file, again before every connection and after a refusal (a
    /// rotated Kubernetes secret or a Vault agent's file is followed).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["token_command", "credentials"])]
    token_file: Option<PathBuf>,
    /// Run this command (`sh -c`) for the token, before every connection and after a refusal:
    /// its trimmed output, or `{"token": "…", "expires_at": "RFC 3339"}` (kept until shortly
    /// before it expires).
    #[arg(long, value_name = "CMD", conflicts_with = "credentials")]
    token_command: Option<String>,
    /// OAuth2 credentials made by `spaces-events login`: the access token is refreshed before
    /// it expires and when refused; rotated refresh tokens are written back.
    #[arg(long, value_name = "PATH")]
    credentials: Option<PathBuf>,
    /// The token itself. Discouraged (a warning is printed): command lines are visible to other
    /// users in process lists; prefer SPACES_TOKEN or --token-file.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
}

/// `--ca-file`: whom TLS trusts, for Spaces, its REST API, OAuth2, webhooks and NATS.
#[derive(Args, Clone)]
pub(crate) struct Trust {
    /// Also trust the certificate authorities in this PEM file (a private CA, a TLS-inspecting
    /// proxy's); default: SSL_CERT_FILE. Mozilla's roots and the system's are always trusted.
    #[arg(long, value_name = "PEM", env = "SSL_CERT_FILE")]
    pub(crate) ca_file: Option<PathBuf>,
}

impl Trust {
    /// The extra CA's PEM, if one is named.
    pub(crate) fn pem(&self) -> Result<Option<Vec<u8>>, String> {
        self.ca_file
            .as_ref()
            .map(|path| {
                std::fs::read(path).map_err(|e| format!("--ca-file {}: {e}", path.display()))
            })
            .transpose()
    }

    /// `builder` (the socket client's, the REST API's, OAuth2's, a webhook's) trusting what
    /// the command trusts: Mozilla's roots and the system's, and `--ca-file`.
    pub(crate) fn apply<B: Trusting>(&self, builder: B) -> Result<B, String> {
        let builder = builder.roots(Roots::WebPkiAndNative);
        Ok(match self.pem()? {
            Some(pem) => builder.add_root_certificate(&pem),
            None => builder,
        })
    }
}

/// The builders whose trust `--ca-file` sets: each has the same two options.
pub(crate) trait Trusting: Sized {
    fn roots(self, roots: Roots) -> Self;
    fn add_root_certificate(self, pem: &[u8]) -> Self;
}

macro_rules! trusting {
    ($($builder:ty),*) => {$(
        impl Trusting for $builder {
            fn roots(self, roots: Roots) -> Self {
                <$builder>::roots(self, roots)
            }
            fn add_root_certificate(self, pem: &[u8]) -> Self {
                <$builder>::add_root_certificate(self, pem)
            }
        }
    )*};
}

trusting!(Builder, RestBuilder, OAuth2, WebhookBuilder);

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Jwt,
    Oauth,
}

impl TokenArgs {
    /// The token source the options name, counted in `spaces_token_renewals_total`;
    /// `guests` makes guest tokens.
    pub(crate) fn source(
        &self,
        trust: &Trust,
        proxy: Option<Option<&str>>,
        guests: impl FnOnce() -> Result<Rest, String>,
    ) -> Result<Arc<dyn Credentials>, String> {
        let token_type = match self.token_type {
            Kind::Jwt => TokenType::Jwt,
            Kind::Oauth => TokenType::Oauth,
        };
        let (source, label): (Box<dyn Credentials>, &'static str) = if let Some(name) = &self.guest
        {
            // Any unique name will do; this one says where it came from.
            let username = format!("spaces-events-{}-{}", std::process::id(), fastrand::u32(..));
            (Box::new(guests()?.guests(name, &username)), "guest")
        } else if let Some(path) = &self.token_file {
            (Box::new(Typed(TokenFile::new(path), token_type)), "file")
        } else if let Some(command) = &self.token_command {
            (
                Box::new(Typed(TokenCommand::new(command), token_type)),
                "command",
            )
        } else if let Some(path) = &self.credentials {
            let mut oauth = trust.apply(OAuth2::new(path))?;
            if let Some(proxy) = proxy {
                oauth = oauth.proxy(proxy);
            }
            (Box::new(oauth), "oauth")
        } else if let Some(token) = std::env::var("SPACES_TOKEN").ok().filter(|t| !t.is_empty()) {
            (
                Box::new(Fixed(
                    Token::new(token),
                    "the SPACES_TOKEN variable",
                    token_type,
                )),
                "fixed",
            )
        } else if let Some(token) = &self.token {
            eprintln!(
                "warning: --token puts the token on the command line, where other users can see it in process lists; use SPACES_TOKEN or --token-file instead"
            );
            (
                Box::new(Fixed(
                    Token::new(token.as_str()),
                    "the --token option",
                    token_type,
                )),
                "fixed",
            )
        } else {
            return Err("no token: set SPACES_TOKEN, or use --token-file, --token-command, --credentials or --guest".into());
        };
        Ok(Arc::new(Counted {
            source,
            label,
            last: Mutex::new(None),
        }))
    }
}

/// A source whose tokens are counted in `spaces_token_renewals_total{source}`: the first
/// token and every different one after it.
#[derive(Debug)]
struct Counted {
    source: Box<dyn Credentials>,
    label: &'static str,
    last: Mutex<Option<Token>>,
}

impl Credentials for Counted {
    fn token<'a>(&'a self, refused: Option<&'a Token>) -> TokenFuture<'a> {
        Box::pin(async move {
            let token = self.source.token(refused).await?;
            let mut last = self.last.lock().expect("token lock");
            if last.as_ref() != Some(&token) {
                telemetry::renewed(self.label);
                *last = Some(token.clone());
            }
            Ok(token)
        })
    }

    fn describe(&self) -> String {
        self.source.describe()
    }

    fn token_type(&self) -> TokenType {
        self.source.token_type()
    }
}

/// A source sent with `--token-type`.
#[derive(Debug)]
struct Typed<C>(C, TokenType);

impl<C: Credentials> Credentials for Typed<C> {
    fn token<'a>(&'a self, refused: Option<&'a Token>) -> TokenFuture<'a> {
        self.0.token(refused)
    }

    fn describe(&self) -> String {
        self.0.describe()
    }

    fn token_type(&self) -> TokenType {
        self.1
    }
}

/// One token for the whole run.
#[derive(Debug)]
struct Fixed(Token, &'static str, TokenType);

impl Credentials for Fixed {
    fn token<'a>(&'a self, _refused: Option<&'a Token>) -> TokenFuture<'a> {
        Box::pin(async move { Ok(self.0.clone()) })
    }

    fn describe(&self) -> String {
        self.1.to_owned()
    }

    fn token_type(&self) -> TokenType {
        self.2
    }
}

/// `spaces-events login`.
#[derive(Args)]
pub(crate) struct LoginArgs {
    /// The application's OAuth2 client id (from the Spaces developer portal).
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// A file holding the application's client secret (confidential clients; PKCE is used
    /// either way).
    #[arg(long, value_name = "F")]
    client_secret_file: Option<PathBuf>,
    /// The identity provider (its `/oauth2/authorize`, `/oauth2/access_token` and
    /// `/oauth2/revoke_token`).
    #[arg(long, value_name = "URL", default_value = spaces_events::auth::DEFAULT_IDENTITY_URL)]
    identity_url: String,
    /// Where to write the credentials (mode 0600), for `--credentials`.
    #[arg(long, value_name = "PATH", default_value = "spaces-credentials.json")]
    credentials: PathBuf,
    /// Print the address to open instead of opening a browser; then paste the code (or the
    /// address the browser was sent to) here, or let the browser come back to this machine.
    #[arg(long)]
    no_browser: bool,
    #[command(flatten)]
    trust: Trust,
}

/// `spaces-events logout`.
#[derive(Args)]
pub(crate) struct LogoutArgs {
    /// The credentials to revoke and remove.
    #[arg(long, value_name = "PATH", default_value = "spaces-credentials.json")]
    credentials: PathBuf,
    #[command(flatten)]
    trust: Trust,
}

/// Exit codes of `login` and `logout`.
const FAILED: u8 = 3;
const USAGE: u8 = 2;
const UNREACHABLE: u8 = 5;

/// The exit of `login` or `logout`: `said` on success, else the error and its code.
fn finished(result: Result<(), AuthError>, said: &str) -> ExitCode {
    match result {
        Ok(()) => {
            eprintln!("{said}");
            ExitCode::SUCCESS
        }
        Err(e) => exit(&e),
    }
}

/// The credentials at `path`, trusting as the command does; an unreadable `--ca-file` is
/// said and is exit 2.
fn credentials(path: &std::path::Path, trust: &Trust) -> Result<OAuth2, ExitCode> {
    trust.apply(OAuth2::new(path)).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(USAGE)
    })
}

fn exit(error: &AuthError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(match error {
        AuthError::Provider { .. } => UNREACHABLE,
        _ => FAILED,
    })
}

pub(crate) fn login(args: LoginArgs) -> ExitCode {
    crate::watch::block_on(async move {
        let mut login = match credentials(&args.credentials, &args.trust) {
            Ok(oauth) => oauth
                .login(&args.client_id)
                .identity_url(&args.identity_url),
            Err(code) => return code,
        };
        if let Some(path) = &args.client_secret_file {
            match std::fs::read_to_string(path) {
                Ok(secret) => login = login.client_secret(secret.trim()),
                Err(e) => {
                    eprintln!("error: --client-secret-file {}: {e}", path.display());
                    return ExitCode::from(USAGE);
                }
            }
        }
        let authorization = match login.start().await {
            Ok(a) => a,
            Err(e) => return exit(&e),
        };
        let url = authorization.url().to_owned();
        let opened = !args.no_browser && open_browser(&url);
        if opened {
            eprintln!("signing in: a browser opened {url}");
        } else {
            eprintln!("open this address in a browser and sign in:\n\n  {url}\n");
        }
        eprintln!(
            "waiting for the browser to come back (or paste the code, or the address it was sent to, here):"
        );
        // A thread of its own: a read of standard input cannot be cancelled, and the process
        // must not wait for it once the browser came back.
        let (line, pasted) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            if std::io::stdin().read_line(&mut text).is_ok_and(|n| n > 0) {
                let _ = line.send(text);
            }
        });
        // Without standard input (a service, a test) only the browser's redirect counts.
        let pasted = async {
            match pasted.await {
                Ok(line) => Some(line),
                Err(_) => std::future::pending().await,
            }
        };
        let said = format!(
            "signed in; credentials written to {} (use --credentials {0})",
            args.credentials.display()
        );
        finished(authorization.finish(pasted).await, &said)
    })
}

pub(crate) fn logout(args: LogoutArgs) -> ExitCode {
    crate::watch::block_on(async move {
        let oauth = match credentials(&args.credentials, &args.trust) {
            Ok(oauth) => oauth,
            Err(code) => return code,
        };
        let said = format!(
            "signed out; {} revoked and removed",
            args.credentials.display()
        );
        finished(oauth.logout().await, &said)
    })
}

/// Opens `url` in the desktop's browser, if there is one.
fn open_browser(url: &str) -> bool {
    let (opener, desktop) = match cfg!(target_os = "macos") {
        true => ("open", true),
        false => (
            "xdg-open",
            std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some(),
        ),
    };
    desktop
        && std::process::Command::new(opener)
            .arg(url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}
