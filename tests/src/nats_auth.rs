//! What a nats-server run the way operators run it needs, made in the test: certificates for
//! TLS and mutual TLS (rcgen), and a decentralised-auth setup — operator, account and user
//! nkeys (the `nkeys` crate) and their JWTs — with the user's credentials file.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nkeys::KeyPair;
use serde_json::{Value, json};

/// PEM files: a CA, a server certificate for 127.0.0.1 and localhost, a client certificate.
#[derive(Debug)]
pub struct Tls {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The server's certificate and key.
    pub server: (PathBuf, PathBuf),
    /// The client's certificate and key.
    pub client: (PathBuf, PathBuf),
}

/// Writes a CA and the certificates it signs into `dir`.
pub fn tls(dir: &Path) -> Tls {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair as Key};
    std::fs::create_dir_all(dir).expect("the directory");
    let ca_key = Key::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("a PEM file");
        path
    };
    let signed = |name: &str, names: Vec<String>| {
        let key = Key::generate().expect("a key");
        let cert = CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("a certificate");
        (
            write(&format!("{name}.pem"), cert.pem()),
            write(&format!("{name}-key.pem"), key.serialize_pem()),
        )
    };
    let server = signed("server", vec!["127.0.0.1".into(), "localhost".into()]);
    let client = signed("client", vec!["bridge".into()]);
    Tls {
        ca: write("ca.pem", ca.pem()),
        server,
        client,
    }
}

/// A nats-server configuration in operator mode (memory resolver, JetStream allowed to the
/// account) and the credentials file of one user of it.
#[derive(Debug)]
pub struct Operator {
    /// `nats-server -c` this.
    pub config: PathBuf,
    /// The user's `.creds` (JWT and nkey seed).
    pub creds: PathBuf,
}

/// A JWT of `claims` about `subject`, signed by `issuer` (the nats-io/jwt v2 layout).
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> String {
    let encode = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let header = encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let claims = json!({
        "jti": format!("{name}{now}{}", fastrand::u64(..)),
        "iat": now,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let body = encode(claims.to_string().as_bytes());
    let signature = issuer
        .sign(format!("{header}.{body}").as_bytes())
        .expect("signs");
    format!("{header}.{body}.{}", encode(&signature))
}

/// Writes an operator, a system account, an account with JetStream and a user into `dir`.
pub fn operator(dir: &Path) -> Operator {
    std::fs::create_dir_all(dir).expect("the directory");
    let operator = KeyPair::new_operator();
    let system = KeyPair::new_account();
    let account = KeyPair::new_account();
    let user = KeyPair::new_user();
    let unlimited = json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
        "wildcards": true, "conn": -1, "leaf": -1,
        "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
    });
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "operator",
        json!({ "system_account": system.public_key(), "type": "operator", "version": 2 }),
    );
    let account_claims =
        |limits: Value| json!({ "limits": limits, "type": "account", "version": 2 });
    let system_jwt = jwt(
        &operator,
        &system.public_key(),
        "SYS",
        account_claims(json!({ "subs": -1, "data": -1, "payload": -1, "conn": -1 })),
    );
    let account_jwt = jwt(
        &operator,
        &account.public_key(),
        "bridges",
        account_claims(unlimited),
    );
    let user_jwt = jwt(
        &account,
        &user.public_key(),
        "bridge",
        json!({ "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2 }),
    );
    let config = dir.join("operator.conf");
    std::fs::write(
        &config,
        format!(
            "operator: {operator_jwt}\nsystem_account: {}\nresolver: MEMORY\n\
             resolver_preload: {{\n  {}: {system_jwt}\n  {}: {account_jwt}\n}}\n",
            system.public_key(),
            system.public_key(),
            account.public_key()
        ),
    )
    .expect("the configuration");
    let creds = dir.join("bridge.creds");
    std::fs::write(
        &creds,
        format!(
            "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
            user.seed().expect("a seed")
        ),
    )
    .expect("the credentials");
    Operator { config, creds }
}
