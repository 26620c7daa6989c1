//! The GraphiQL explorer, served from the binary.
//!
//! The production builds of GraphiQL, its explorer plugin, React and
//! graphql-ws are vendored under `api/explorer/vendor` (refreshed by
//! `scripts/vendor-explorer.sh`) and compiled in, so the page works on an
//! offline network and under a strict Content-Security-Policy: every script
//! and style sheet is a file of this server, admitted by a per-response nonce.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Where the assets live; the version segment changes whenever an asset does,
/// so browsers may cache them forever.
const ASSET_PREFIX: &str = "/graphql/explorer";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($name:literal => $content_type:literal, $path:literal;)*) => {
        &[$(Asset { name: $name, content_type: $content_type, body: include_bytes!($path) },)*]
    };
}

static ASSETS: &[Asset] = assets! {
    "graphiql.min.css" => "text/css; charset=utf-8", "../explorer/vendor/graphiql.min.css";
    "plugin-explorer.css" => "text/css; charset=utf-8", "../explorer/vendor/plugin-explorer.css";
    "explorer.css" => "text/css; charset=utf-8", "../explorer/explorer.css";
    "react.production.min.js" => "text/javascript; charset=utf-8", "../explorer/vendor/react.production.min.js";
    "react-dom.production.min.js" => "text/javascript; charset=utf-8", "../explorer/vendor/react-dom.production.min.js";
    "graphiql.min.js" => "text/javascript; charset=utf-8", "../explorer/vendor/graphiql.min.js";
    "plugin-explorer.umd.js" => "text/javascript; charset=utf-8", "../explorer/vendor/plugin-explorer.umd.js";
    "graphql-ws.min.js" => "text/javascript; charset=utf-8", "../explorer/vendor/graphql-ws.min.js";
    "explorer.js" => "text/javascript; charset=utf-8", "../explorer/explorer.js";
};

const PAGE: &str = include_str!("../explorer/index.html");

/// A digest of every asset, used as the version segment of their URLs.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut digest = Sha256::new();
    for asset in ASSETS {
        digest.update(asset.name.as_bytes());
        digest.update(asset.body);
    }
    hex::encode(&digest.finalize()[..8])
});

/// The route that serves the assets.
pub const ASSET_ROUTE: &str = "/graphql/explorer/{version}/{name}";

/// The explorer page, with a fresh nonce in its scripts and its policy.
pub fn page() -> Response {
    let mut nonce = [0u8; 18];
    rand::rng().fill_bytes(&mut nonce);
    let nonce = STANDARD_NO_PAD.encode(nonce);
    let base = format!("{ASSET_PREFIX}/{}", *VERSION);
    let body = PAGE.replace("{{BASE}}", &base).replace("{{NONCE}}", &nonce);
    // 'self' in connect-src admits ws:/wss: to this host (CSP Level 3).
    let policy = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; \
         img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// `GET /graphql/explorer/{version}/{name}`: one vendored asset. A stale
/// version answers 404 so a cached page never mixes old and new files.
pub async fn asset(Path((version, name)): Path<(String, String)>) -> Response {
    let found = ASSETS.iter().find(|asset| asset.name == name);
    match found {
        Some(asset) if version == *VERSION => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.body,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_page_names_is_served() {
        for line in PAGE.lines() {
            let Some(start) = line.find("{{BASE}}/") else {
                continue;
            };
            let rest = &line[start + "{{BASE}}/".len()..];
            let name = &rest[..rest.find('"').expect("quoted asset name")];
            assert!(
                ASSETS.iter().any(|asset| asset.name == name),
                "{name} is linked from the page but not served"
            );
        }
    }

    #[test]
    fn each_page_gets_its_own_nonce() {
        let policy = |response: &Response| {
            response.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .expect("ascii")
                .to_owned()
        };
        assert_ne!(policy(&page()), policy(&page()));
        assert!(policy(&page()).contains("script-src 'nonce-"));
    }
}
