//! Until the auth domain is installed, no access token is valid.

use std::sync::Arc;

use kernel::{AppError, Authenticator, Deps, Principal};

struct NoTokensIssued;

#[async_trait::async_trait]
impl Authenticator for NoTokensIssued {
    async fn authenticate(&self, _access_token: &str) -> Result<Principal, AppError> {
        Err(AppError::unauthenticated("Invalid access token"))
    }
}

/// The authenticator of the installed auth domain.
pub fn authenticator(_deps: &Deps) -> Arc<dyn Authenticator> {
    Arc::new(NoTokensIssued)
}
