//! A credential helper: a command whose output is the token.

use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::io::AsyncReadExt;

use super::{AuthError, Credentials, EARLY, Token, TokenFuture, not_refused, parse_time, renew_at};

/// How long a helper may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The most a helper may print.
const MAX_OUTPUT: u64 = 64 << 10;

/// A credential helper, run by `sh -c` whenever a token is needed (as AWS's
/// `credential_process` and kubectl's exec credentials are): its standard output, trimmed, is
/// the token. It may print a JSON object instead, `{"token": "…", "expires_at":
/// "2026-12-07T10:00:00Z"}`; then the token is kept until shortly before it expires (or is
/// refused) and the helper is not run meanwhile. Its standard error goes to ours; a helper
/// that fails (a non-zero exit, a signal, 30 s without an answer, no token) is an
/// [`AuthError::Command`] naming the command and its exit status, never its output.
///
/// ```no_run
/// use spaces_events::auth::TokenCommand;
/// use spaces_events::client::{Client, PRODUCTION_URL};
/// let builder = Client::builder(PRODUCTION_URL, "")
///     .credentials(TokenCommand::new("vault kv get -field=token secret/spaces"));
/// ```
#[derive(Debug)]
pub struct TokenCommand {
    command: String,
    /// The last token that came with an expiry, and when to stop using it.
    kept: Mutex<Option<(Token, SystemTime)>>,
}

impl TokenCommand {
    /// Runs `command` with `sh -c`; nothing is run yet.
    pub fn new(command: impl Into<String>) -> Self {
        TokenCommand {
            command: command.into(),
            kept: Mutex::new(None),
        }
    }

    fn error(&self, reason: impl Into<String>) -> AuthError {
        AuthError::Command {
            command: self.command.clone(),
            reason: reason.into(),
        }
    }

    async fn run(&self) -> Result<(Token, Option<SystemTime>), AuthError> {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.error(format!("could not start: {e}")))?;
        let mut stdout = child.stdout.take().expect("piped").take(MAX_OUTPUT);
        let run = async {
            let mut out = Vec::new();
            let read = stdout.read_to_end(&mut out).await;
            (read, child.wait().await, out)
        };
        let (read, status, out) = tokio::time::timeout(TIMEOUT, run)
            .await
            .map_err(|_| self.error(format!("gave no answer in {} s", TIMEOUT.as_secs())))?;
        let status = status.map_err(|e| self.error(format!("could not be waited for: {e}")))?;
        if !status.success() {
            return Err(self.error(format!("failed ({status})")));
        }
        read.map_err(|e| self.error(format!("output unreadable: {e}")))?;
        let text = std::str::from_utf8(&out)
            .map_err(|_| self.error("printed something that is not UTF-8"))?
            .trim();
        if text.starts_with('{') {
            #[derive(serde::Deserialize)]
            struct Printed {
                token: String,
                expires_at: Option<String>,
            }
            let printed: Printed = serde_json::from_str(text).map_err(|e| {
                self.error(format!(
                    "printed a JSON object without a string \"token\" (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })?;
            let expires_at = match printed.expires_at.as_deref() {
                None => None,
                Some(at) => Some(parse_time(at).ok_or_else(|| {
                    self.error("printed an \"expires_at\" that is not an RFC 3339 time")
                })?),
            };
            return match printed.token.trim() {
                "" => Err(self.error("printed an empty \"token\"")),
                token => Ok((Token::new(token), expires_at)),
            };
        }
        match text {
            "" => Err(self.error("printed no token")),
            token => Ok((Token::new(token), None)),
        }
    }
}

impl Credentials for TokenCommand {
    fn token<'a>(&'a self, refused: Option<&'a Token>) -> TokenFuture<'a> {
        Box::pin(async move {
            let now = SystemTime::now();
            let kept = self.kept.lock().expect("token lock").clone();
            if let Some((token, _)) =
                kept.filter(|(token, until)| now < *until && not_refused(token, refused))
            {
                return Ok(token);
            }
            let (token, expires_at) = self.run().await?;
            *self.kept.lock().expect("token lock") =
                expires_at.map(|at| (token.clone(), renew_at(at, now, EARLY)));
            Ok(token)
        })
    }

    fn describe(&self) -> String {
        format!("the token command `{}`", self.command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_output_is_the_token_and_run_every_time() {
        let dir = std::env::temp_dir().join(format!("se-tokencmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let count = dir.join("count");
        // Prints a new token on every run.
        let helper = TokenCommand::new(format!(
            "echo x >> {0}; echo \"  token-$(wc -l < {0})  \"",
            count.display()
        ));
        assert_eq!(helper.token(None).await.unwrap().expose(), "token-1");
        assert_eq!(helper.token(None).await.unwrap().expose(), "token-2");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn json_output_is_kept_until_shortly_before_it_expires_or_is_refused() {
        let dir = std::env::temp_dir().join(format!("se-tokenjson-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let count = dir.join("count");
        let at = humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(3600));
        let helper = TokenCommand::new(format!(
            "echo x >> {0}; printf '{{\"token\": \"t%s\", \"expires_at\": \"{at}\"}}' $(wc -l < {0})",
            count.display()
        ));
        let first = helper.token(None).await.unwrap();
        assert_eq!(first.expose(), "t1");
        assert_eq!(helper.token(None).await.unwrap().expose(), "t1", "kept");
        assert_eq!(
            helper.token(Some(&first)).await.unwrap().expose(),
            "t2",
            "refused"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn failures_name_the_command_and_status_never_the_output() {
        for (command, says) in [
            ("echo s3cr3t; exit 3", "failed (exit status: 3)"),
            ("echo '{\"tok\": \"s3cr3t\"}'", "without a string \"token\""),
            (
                "echo '{\"token\": \"s3cr3t\", \"expires_at\": \"soon\"}'",
                "not an RFC 3339",
            ),
            ("true", "printed no token"),
            ("kill -9 $$", "signal: 9"),
        ] {
            let e = TokenCommand::new(command).token(None).await.unwrap_err();
            let text = e.to_string();
            assert!(text.contains(says), "{command}: {text}");
            assert!(
                text.starts_with(&format!("token command `{command}` ")),
                "{text}"
            );
            assert!(!text.replace(command, "").contains("s3cr3t"), "{text}");
            assert!(!e.is_fatal());
        }
    }
}
