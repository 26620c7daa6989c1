//! Reading and verifying the audit log.

use kernel::pagination::Page;
use kernel::{AppError, Principal};

use super::AuthService;
use crate::audit;

impl AuthService {
    /// Audit entries, newest first.
    pub async fn audit_log(
        &self,
        principal: &Principal,
        filter: &audit::AuditFilter,
        before_seq: Option<i64>,
        limit: usize,
    ) -> Result<Page<audit::AuditEntry>, AppError> {
        principal.require("auth:audit.read")?;
        let mut conn = self.conn().await?;
        let (rows, total) = audit::list(&mut conn, filter, before_seq, limit as i64).await?;
        Ok(Page::from_overfetch(rows, limit, total))
    }

    /// Re-computes the audit chain.
    pub async fn verify_audit_chain(
        &self,
        principal: &Principal,
    ) -> Result<audit::ChainCheck, AppError> {
        principal.require("auth:audit.read")?;
        let mut conn = self.conn().await?;
        audit::verify_chain(&mut conn).await
    }
}
