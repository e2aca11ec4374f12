//! Shared helpers of the cross-crate tests: fixtures, the schema validator, the real peers.

pub mod net;
pub mod peer;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// `tests/fixtures/`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The fixtures of `tests/fixtures/<kind>/` (`valid` or `invalid`) as `(name, text)`, by name.
pub fn fixtures(kind: &str) -> Vec<(String, String)> {
    let dir = fixtures_dir().join(kind);
    let mut out: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("readable fixture dir").path();
            let name = path
                .file_stem()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (name, fs::read_to_string(&path).expect("UTF-8 fixture"))
        })
        .collect();
    out.sort();
    out
}

/// A draft-07 validator for the MEDIA_SESSION_RESPONSE payload, or with `Some(name)` for a
/// definition of `schema/subscription.schema.json` (cross-file `$ref`s resolved).
pub fn validator(definition: Option<&str>) -> jsonschema::Validator {
    let msr: Value =
        serde_json::from_str(spaces_events::MEDIA_SESSION_RESPONSE_SCHEMA).expect("schema is JSON");
    let sub: Value =
        serde_json::from_str(spaces_events::SUBSCRIPTION_SCHEMA).expect("schema is JSON");
    let id = |doc: &Value| doc["$id"].as_str().expect("schema has $id").to_owned();
    let root = match definition {
        None => serde_json::json!({ "$ref": id(&msr) }),
        Some(name) => serde_json::json!({ "$ref": format!("{}#/definitions/{name}", id(&sub)) }),
    };
    let registry = jsonschema::Registry::new()
        .add(id(&msr), msr)
        .and_then(|r| r.add(id(&sub), sub))
        .and_then(|r| r.prepare())
        .expect("schemas register");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .with_registry(&registry)
        .build(&root)
        .expect("schema compiles")
}
