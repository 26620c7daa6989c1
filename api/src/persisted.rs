//! Persisted documents, in the transport (before parsing, for every route).
//!
//! - Automatic persisted queries (Apollo's `extensions.persistedQuery` with
//!   `version: 1` and a `sha256Hash`): a hash alone runs the document stored
//!   for it, or answers `PERSISTED_QUERY_NOT_FOUND` so the client sends the
//!   full document with its hash, which is checked and stored.
//! - Trusted documents (`PERSISTED_QUERIES=only`): only documents of the
//!   manifest run (the JSON object of hash to document that GraphQL Code
//!   Generator's `persistedDocuments` writes), named by
//!   `extensions.persistedQuery.sha256Hash` or by `documentId`.
//!
//! The store of automatic documents is per instance and bounded; a client
//! whose hash another instance stored simply sends the document once more.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `PERSISTED_QUERIES`: what the server does with persisted documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Hashes are not understood; a hash without a document is refused.
    Off,
    /// Automatic persisted queries, plus the manifest when one is given (default).
    Automatic,
    /// Only the manifest's documents run.
    Only,
}

impl std::str::FromStr for Mode {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "off" => Ok(Self::Off),
            "apq" | "automatic" => Ok(Self::Automatic),
            "only" => Ok(Self::Only),
            _ => Err("expected off, apq or only"),
        }
    }
}

/// Why a request's persisted document cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The hash is unknown here; send the document with it.
    NotFound,
    /// This server does not take hashes without documents.
    NotSupported,
    /// Only registered documents run, and this is none of them.
    NotAllowed,
    /// The document does not have the hash it came with.
    HashMismatch,
    /// The `persistedQuery` extension or `documentId` is malformed.
    Malformed(&'static str),
}

impl Refusal {
    /// The `extensions.code` clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::NotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            Self::NotAllowed => "PERSISTED_QUERY_NOT_ALLOWED",
            Self::HashMismatch | Self::Malformed(_) => "BAD_REQUEST",
        }
    }

    /// The message (Apollo clients match the first two by text as well).
    pub fn message(&self) -> String {
        match self {
            Self::NotFound => "PersistedQueryNotFound".into(),
            Self::NotSupported => "PersistedQueryNotSupported".into(),
            Self::NotAllowed => "Only registered documents run on this server".into(),
            Self::HashMismatch => "The document does not match its sha256Hash".into(),
            Self::Malformed(what) => (*what).into(),
        }
    }
}

/// Most documents the automatic store keeps before it forgets the oldest.
const AUTOMATIC_CAPACITY: usize = 5_000;

/// The manifest and the automatic store of one server.
#[derive(Debug)]
pub struct PersistedDocuments {
    mode: Mode,
    manifest: HashMap<String, String>,
    automatic: Mutex<AutomaticStore>,
}

#[derive(Debug, Default)]
struct AutomaticStore {
    documents: HashMap<String, String>,
    oldest_first: VecDeque<String>,
}

/// The lowercase hex SHA-256 of a document, as clients compute it.
pub fn document_hash(document: &str) -> String {
    hex::encode(Sha256::digest(document.as_bytes()))
}

impl PersistedDocuments {
    /// A store in `mode` with the manifest's documents (its JSON text), each
    /// checked against its hash.
    pub fn new(mode: Mode, manifest: Option<&str>) -> Result<Self, String> {
        let manifest = match manifest {
            None if mode == Mode::Only => {
                return Err("PERSISTED_QUERIES=only needs PERSISTED_QUERIES_MANIFEST".into());
            }
            None => HashMap::new(),
            Some(text) => {
                let documents: HashMap<String, String> =
                    serde_json::from_str(text).map_err(|error| {
                        format!("the manifest is not an object of hash to document: {error}")
                    })?;
                for (hash, document) in &documents {
                    if document_hash(document) != hash.to_ascii_lowercase() {
                        return Err(format!(
                            "the manifest's document {hash} does not have that hash"
                        ));
                    }
                }
                documents
                    .into_iter()
                    .map(|(hash, document)| (hash.to_ascii_lowercase(), document))
                    .collect()
            }
        };
        Ok(Self {
            mode,
            manifest,
            automatic: Mutex::default(),
        })
    }

    /// The document to run for a request's parameters: its `query`, or the
    /// persisted document its hash names. `Ok(None)`: neither is given.
    pub fn resolve(&self, params: &Map<String, Value>) -> Result<Option<String>, Refusal> {
        let query = match params.get("query") {
            Some(Value::String(query)) => Some(query.as_str()),
            _ => None,
        };
        let hash = requested_hash(params)?;
        match (self.mode, hash, query) {
            (Mode::Only, None, _) => Err(Refusal::NotAllowed),
            (Mode::Only, Some(hash), query) => {
                let document = self.manifest.get(&hash).ok_or(Refusal::NotAllowed)?;
                if query.is_some_and(|query| query != document) {
                    return Err(Refusal::HashMismatch);
                }
                Ok(Some(document.clone()))
            }
            (_, None, query) => Ok(query.map(str::to_string)),
            (Mode::Off, Some(_), None) => Err(Refusal::NotSupported),
            (Mode::Off, Some(_), Some(query)) => Ok(Some(query.to_string())),
            (Mode::Automatic, Some(hash), None) => {
                self.lookup(&hash).map(Some).ok_or(Refusal::NotFound)
            }
            (Mode::Automatic, Some(hash), Some(query)) => {
                if document_hash(query) != hash {
                    return Err(Refusal::HashMismatch);
                }
                self.remember(hash, query);
                Ok(Some(query.to_string()))
            }
        }
    }

    fn lookup(&self, hash: &str) -> Option<String> {
        if let Some(document) = self.manifest.get(hash) {
            return Some(document.clone());
        }
        let store = self
            .automatic
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        store.documents.get(hash).cloned()
    }

    fn remember(&self, hash: String, document: &str) {
        if self.manifest.contains_key(&hash) {
            return;
        }
        let mut store = self
            .automatic
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if store.documents.contains_key(&hash) {
            return;
        }
        if store.oldest_first.len() >= AUTOMATIC_CAPACITY
            && let Some(oldest) = store.oldest_first.pop_front()
        {
            store.documents.remove(&oldest);
        }
        store.oldest_first.push_back(hash.clone());
        store.documents.insert(hash, document.to_string());
    }
}

/// The hash a request names: `extensions.persistedQuery.sha256Hash`
/// (version 1) or `documentId` (`sha256:<hex>` or bare hex), lowercased.
fn requested_hash(params: &Map<String, Value>) -> Result<Option<String>, Refusal> {
    let from_extension = match params
        .get("extensions")
        .and_then(|extensions| extensions.get("persistedQuery"))
    {
        None | Some(Value::Null) => None,
        Some(Value::Object(persisted)) => {
            if persisted.get("version").and_then(Value::as_i64) != Some(1) {
                return Err(Refusal::Malformed("persistedQuery.version must be 1"));
            }
            match persisted.get("sha256Hash") {
                Some(Value::String(hash)) => Some(hash.as_str()),
                _ => {
                    return Err(Refusal::Malformed(
                        "persistedQuery.sha256Hash must be a string",
                    ));
                }
            }
        }
        Some(_) => return Err(Refusal::Malformed("persistedQuery must be an object")),
    };
    let from_document_id = match params.get("documentId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.strip_prefix("sha256:").unwrap_or(id)),
        Some(_) => return Err(Refusal::Malformed("documentId must be a string")),
    };
    let Some(hash) = from_extension.or(from_document_id) else {
        return Ok(None);
    };
    if hash.len() != 64 || !hash.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(Refusal::Malformed(
            "a document hash is 64 hexadecimal digits",
        ));
    }
    Ok(Some(hash.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().expect("object").clone()
    }

    fn with_hash(hash: &str, query: Option<&str>) -> Map<String, Value> {
        let mut request =
            json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
        if let Some(query) = query {
            request["query"] = json!(query);
        }
        params(request)
    }

    const DOCUMENT: &str = "{ apiVersion }";

    #[test]
    fn automatic_documents_are_stored_by_hash_once_sent_in_full() {
        let store = PersistedDocuments::new(Mode::Automatic, None).expect("store");
        let hash = document_hash(DOCUMENT);
        assert_eq!(
            store.resolve(&with_hash(&hash, None)),
            Err(Refusal::NotFound)
        );
        assert_eq!(
            store.resolve(&with_hash(&hash, Some(DOCUMENT))),
            Ok(Some(DOCUMENT.to_string()))
        );
        assert_eq!(
            store.resolve(&with_hash(&hash, None)),
            Ok(Some(DOCUMENT.to_string()))
        );
        assert_eq!(
            store.resolve(&with_hash(&hash, Some("{ other }"))),
            Err(Refusal::HashMismatch)
        );
        assert_eq!(
            store.resolve(&params(json!({ "query": DOCUMENT }))),
            Ok(Some(DOCUMENT.to_string()))
        );
    }

    #[test]
    fn only_mode_runs_manifest_documents_and_nothing_else() {
        let hash = document_hash(DOCUMENT);
        let manifest = json!({ hash.clone(): DOCUMENT }).to_string();
        let store = PersistedDocuments::new(Mode::Only, Some(&manifest)).expect("store");
        assert_eq!(
            store.resolve(&with_hash(&hash, None)),
            Ok(Some(DOCUMENT.to_string()))
        );
        assert_eq!(
            store.resolve(&params(json!({ "documentId": format!("sha256:{hash}") }))),
            Ok(Some(DOCUMENT.to_string()))
        );
        assert_eq!(
            store.resolve(&params(json!({ "query": DOCUMENT }))),
            Err(Refusal::NotAllowed)
        );
        let other = document_hash("{ serverTime }");
        assert_eq!(
            store.resolve(&with_hash(&other, Some("{ serverTime }"))),
            Err(Refusal::NotAllowed)
        );
    }

    #[test]
    fn manifests_are_checked_and_required_for_only_mode() {
        assert!(PersistedDocuments::new(Mode::Only, None).is_err());
        let wrong = json!({ document_hash("{ a }"): "{ b }" }).to_string();
        assert!(PersistedDocuments::new(Mode::Automatic, Some(&wrong)).is_err());
        assert!(PersistedDocuments::new(Mode::Automatic, Some("[]")).is_err());
    }

    #[test]
    fn off_mode_ignores_hashes_that_come_with_documents() {
        let store = PersistedDocuments::new(Mode::Off, None).expect("store");
        let hash = document_hash(DOCUMENT);
        assert_eq!(
            store.resolve(&with_hash(&hash, None)),
            Err(Refusal::NotSupported)
        );
        assert_eq!(
            store.resolve(&with_hash(&hash, Some(DOCUMENT))),
            Ok(Some(DOCUMENT.to_string()))
        );
    }

    #[test]
    fn malformed_hashes_are_refused() {
        let store = PersistedDocuments::new(Mode::Automatic, None).expect("store");
        assert!(matches!(
            store.resolve(&with_hash("abc", None)),
            Err(Refusal::Malformed(_))
        ));
        let wrong_version = params(
            json!({ "extensions": { "persistedQuery": { "version": 2, "sha256Hash": document_hash(DOCUMENT) } } }),
        );
        assert!(matches!(
            store.resolve(&wrong_version),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn the_automatic_store_is_bounded() {
        let store = PersistedDocuments::new(Mode::Automatic, None).expect("store");
        let first = "{ a0 }";
        for index in 0..=AUTOMATIC_CAPACITY {
            let document = format!("{{ a{index} }}");
            store
                .resolve(&with_hash(&document_hash(&document), Some(&document)))
                .expect("stored");
        }
        assert_eq!(
            store.resolve(&with_hash(&document_hash(first), None)),
            Err(Refusal::NotFound)
        );
    }
}
