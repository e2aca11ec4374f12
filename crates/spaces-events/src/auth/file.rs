//! A token file, read again before every connection attempt and call.

use std::path::{Path, PathBuf};

use super::{AuthError, Credentials, Token, TokenFuture};

/// A file holding the token (surrounding whitespace ignored), read again every time one is
/// needed: a Kubernetes secret mount or a Vault agent that replaces it (atomically, by a
/// rename or a symlink swap) is followed without a restart.
///
/// ```no_run
/// use spaces_events::auth::TokenFile;
/// use spaces_events::client::{Client, PRODUCTION_URL};
/// let builder = Client::builder(PRODUCTION_URL, "").credentials(TokenFile::new("/run/secrets/spaces-token"));
/// ```
#[derive(Clone, Debug)]
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    /// The file at `path`; nothing is read yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TokenFile { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<Token, AuthError> {
        let error = |reason: String| AuthError::File {
            path: self.path.display().to_string(),
            reason,
        };
        // Opened anew each time: a replaced file is a new inode, and a reader holding the old
        // one would keep the old token.
        let text = std::fs::read_to_string(&self.path).map_err(|e| error(e.to_string()))?;
        match text.trim() {
            "" => Err(error("empty".into())),
            token => Ok(Token::new(token)),
        }
    }
}

impl Credentials for TokenFile {
    fn token<'a>(&'a self, _refused: Option<&'a Token>) -> TokenFuture<'a> {
        let token = self.read();
        Box::pin(async move { token })
    }

    fn describe(&self) -> String {
        format!("the token file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn read_again_each_time_and_replaced_atomically() {
        let dir = std::env::temp_dir().join(format!("se-tokenfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        let source = TokenFile::new(&path);
        let missing = source.token(None).await.unwrap_err();
        assert!(matches!(missing, AuthError::File { .. }), "{missing}");
        assert!(!missing.is_fatal());
        std::fs::write(&path, "first\n").unwrap();
        assert_eq!(source.token(None).await.unwrap().expose(), "first");
        // As a secret mount replaces it: a new file renamed over the old one.
        std::fs::write(dir.join("token.new"), "  second  ").unwrap();
        std::fs::rename(dir.join("token.new"), &path).unwrap();
        assert_eq!(source.token(None).await.unwrap().expose(), "second");
        std::fs::write(&path, "\n").unwrap();
        let empty = source.token(None).await.unwrap_err().to_string();
        assert!(empty.ends_with("token: empty"), "{empty}");
        assert_eq!(
            source.describe(),
            format!("the token file {}", path.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
