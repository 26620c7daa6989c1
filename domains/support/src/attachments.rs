//! Tickets as owners of files: the files domain asks here who may see and
//! attach a ticket's files. Reads only this domain's tables.

use diesel_async::AsyncPgConnection;
use files::{FileOwner, FileOwnerKind, OwnerAccess};
use kernel::domain::BoxFuture;
use kernel::{AccessScope, AppResult, Principal};
use uuid::Uuid;

use crate::repo::find_visible;

/// The permission that makes someone staff on the support desk.
const INTERNAL: &str = "support:ticket.internal";

/// What a principal who sees a ticket may do with its attachments: the
/// organization and staff attach, partners only read, and those who read
/// internal notes see staff-only files.
fn ticket_access(scope: AccessScope, reads_internal: bool) -> OwnerAccess {
    OwnerAccess {
        may_attach: matches!(scope, AccessScope::Staff | AccessScope::ClientOrg(_)),
        staff: reads_internal,
        within: None,
    }
}

/// Attachments of tickets.
#[derive(Debug, Default)]
pub struct TicketFiles;

impl FileOwner for TicketFiles {
    fn kind(&self) -> FileOwnerKind {
        FileOwnerKind::Ticket
    }

    fn access<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        principal: &'a Principal,
        id: Uuid,
    ) -> BoxFuture<'a, AppResult<OwnerAccess>> {
        Box::pin(async move {
            find_visible(conn, principal.scope(), id).await?;
            Ok(ticket_access(principal.scope(), principal.has(INTERNAL)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_attach_partners_read_and_only_staff_see_staff_only_files() {
        let org = Uuid::now_v7();
        let client = ticket_access(AccessScope::ClientOrg(org), false);
        assert!(client.may_attach && !client.staff);
        assert!(ticket_access(AccessScope::Staff, true).staff);
        assert!(!ticket_access(AccessScope::Partner(org), false).may_attach);
    }
}
