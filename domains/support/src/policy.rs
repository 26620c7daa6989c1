//! Pure rules of the support desk: who may see and change tickets, comments
//! and internal notes. Row visibility itself is `auth::visibility` (in `repo`).

use auth::model::OrganizationKind;
use kernel::live::{LiveAccess, OrganizationSet};
use kernel::{AccessScope, AppError, Principal};
use uuid::Uuid;

use crate::model::{HistoryKind, TicketStatus};

/// Open tickets (clients for their own organization).
pub const TICKET_CREATE: &str = "support:ticket.create";
/// Change status, priority and assignee; reply as staff.
pub const TICKET_MANAGE: &str = "support:ticket.manage";
/// Write and read internal notes.
pub const TICKET_INTERNAL: &str = "support:ticket.internal";

/// Whether the caller reads (and writes) staff-only internal notes.
pub fn sees_internal(principal: &Principal) -> bool {
    principal.has(TICKET_INTERNAL)
}

/// Whether the caller may read a comment of a ticket they see.
pub fn may_read_comment(principal: &Principal, internal: bool) -> bool {
    !internal || sees_internal(principal)
}

/// `Ok` when the caller may change status, priority and assignee.
pub fn may_change(principal: &Principal) -> Result<(), AppError> {
    principal.require(TICKET_MANAGE)
}

/// For which organizations a caller opens tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// A client: always for its own organization.
    OwnOrganization(Uuid),
    /// Staff: for the client organization they name.
    AnyOrganization,
}

/// Who the caller opens tickets for, or `FORBIDDEN`.
pub fn opener(principal: &Principal) -> Result<Opener, AppError> {
    principal.require(TICKET_CREATE)?;
    match principal.scope() {
        AccessScope::ClientOrg(own) => Ok(Opener::OwnOrganization(own)),
        AccessScope::Staff => Ok(Opener::AnyOrganization),
        AccessScope::Partner(_) | AccessScope::Assigned(_) => {
            Err(AppError::forbidden("You may not open tickets"))
        }
    }
}

/// Whether tickets may belong to an organization of `kind`.
pub fn may_own_tickets(kind: OrganizationKind) -> bool {
    kind == OrganizationKind::Client
}

/// What a ticket's assignee holds: they are sent its internal notes, so a
/// user whose role loses it is no assignee any more.
pub const ASSIGNEE: &str = TICKET_INTERNAL;

/// What a comment by the caller records in the history, or `FORBIDDEN`:
/// internal notes need `support:ticket.internal`; staff reply as staff, and
/// clients, who may open tickets, as the client.
pub fn comment_kind(principal: &Principal, internal: bool) -> Result<HistoryKind, AppError> {
    if internal {
        if !sees_internal(principal) {
            return Err(AppError::forbidden("Only staff write internal notes"));
        }
        return Ok(HistoryKind::InternalNote);
    }
    if principal.has(TICKET_MANAGE) {
        Ok(HistoryKind::StaffReply)
    } else if principal.has(TICKET_CREATE) {
        Ok(HistoryKind::ClientReply)
    } else {
        Err(AppError::forbidden("You may not reply to tickets"))
    }
}

/// Whether a comment of `kind` on a ticket in `status` reopens it (a client's
/// answer to a ticket waiting on them resumes the SLA clock).
pub fn reopens(kind: HistoryKind, status: TicketStatus) -> bool {
    kind == HistoryKind::ClientReply && status == TicketStatus::WaitingOnClient
}

/// Whether the caller may watch the whole queue (staff and clients; partners
/// watch single tickets they see).
pub fn may_watch_queue(principal: &Principal) -> bool {
    matches!(
        principal.scope(),
        AccessScope::Staff | AccessScope::ClientOrg(_)
    )
}

/// What live ticket changes reach the caller: those of the organizations
/// they may see, internal notes only with `support:ticket.internal`.
pub fn live_access(principal: &Principal, organizations: OrganizationSet) -> LiveAccess {
    LiveAccess {
        organizations,
        staff: sees_internal(principal),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeSet;

    use kernel::events::Audience;
    use kernel::{ErrorCode, Role};

    use super::*;

    /// The support permissions each role holds as the migrations seed them.
    fn seeded_permissions(role: Role) -> &'static [&'static str] {
        match role {
            Role::SuperAdmin | Role::Admin => &[
                TICKET_CREATE,
                TICKET_MANAGE,
                TICKET_INTERNAL,
                "support:sla.manage",
                "support:kb.write",
            ],
            Role::Employee => &[
                TICKET_CREATE,
                TICKET_MANAGE,
                TICKET_INTERNAL,
                "support:kb.write",
            ],
            Role::Client => &[TICKET_CREATE],
            Role::Freelancer | Role::Partner => &[],
        }
    }

    /// A principal of `role` in organization 2 with the seeded permissions.
    pub(crate) fn seeded(role: Role) -> Principal {
        Principal {
            user_id: Uuid::from_u128(1),
            role,
            org_id: Uuid::from_u128(2),
            permissions: seeded_permissions(role)
                .iter()
                .map(|p| p.to_string())
                .collect::<BTreeSet<_>>(),
            session_id: Uuid::from_u128(3),
            expires_at: chrono::Utc::now(),
        }
    }

    fn forbidden<T: std::fmt::Debug>(result: Result<T, AppError>) -> bool {
        result.is_err_and(|error| error.code() == ErrorCode::Forbidden)
    }

    #[test]
    fn clients_open_for_their_organization_staff_for_any_and_nobody_else() {
        for role in Role::ALL {
            let result = opener(&seeded(role));
            match role {
                Role::SuperAdmin | Role::Admin | Role::Employee => {
                    assert_eq!(result.ok(), Some(Opener::AnyOrganization), "{role:?}");
                }
                Role::Client => assert_eq!(
                    result.ok(),
                    Some(Opener::OwnOrganization(Uuid::from_u128(2)))
                ),
                Role::Freelancer | Role::Partner => assert!(forbidden(result), "{role:?}"),
            }
        }
        assert!(may_own_tickets(OrganizationKind::Client));
        assert!(!may_own_tickets(OrganizationKind::Agency));
        assert!(!may_own_tickets(OrganizationKind::Partner));
    }

    #[test]
    fn staff_reply_and_write_notes_clients_reply_and_the_rest_are_refused() {
        for role in Role::ALL {
            let principal = seeded(role);
            let public = comment_kind(&principal, false);
            let note = comment_kind(&principal, true);
            match role {
                Role::SuperAdmin | Role::Admin | Role::Employee => {
                    assert_eq!(public.ok(), Some(HistoryKind::StaffReply), "{role:?}");
                    assert_eq!(note.ok(), Some(HistoryKind::InternalNote), "{role:?}");
                }
                Role::Client => {
                    assert_eq!(public.ok(), Some(HistoryKind::ClientReply));
                    assert!(forbidden(note));
                }
                Role::Freelancer | Role::Partner => {
                    assert!(forbidden(public), "{role:?}");
                    assert!(forbidden(note), "{role:?}");
                }
            }
        }
    }

    #[test]
    fn only_staff_see_internal_notes_change_tickets_and_are_assigned() {
        for role in Role::ALL {
            let principal = seeded(role);
            let staff = role.is_staff();
            assert_eq!(sees_internal(&principal), staff, "{role:?}");
            assert!(may_read_comment(&principal, false), "{role:?}");
            assert_eq!(may_read_comment(&principal, true), staff, "{role:?}");
            assert_eq!(may_change(&principal).is_ok(), staff, "{role:?}");
            assert_eq!(principal.has(ASSIGNEE), staff, "{role:?}");
        }
    }

    #[test]
    fn staff_and_clients_watch_the_queue() {
        for role in Role::ALL {
            let expected = matches!(
                role,
                Role::SuperAdmin | Role::Admin | Role::Employee | Role::Client
            );
            assert_eq!(may_watch_queue(&seeded(role)), expected, "{role:?}");
        }
    }

    #[test]
    fn live_changes_reach_the_organizations_one_sees_and_notes_reach_staff() {
        let acme = Uuid::from_u128(10);
        let globex = Uuid::from_u128(11);
        let note = Audience {
            organization_id: Some(acme),
            staff_only: true,
        };
        let reply = Audience {
            staff_only: false,
            ..note
        };
        let elsewhere = Audience {
            organization_id: Some(globex),
            staff_only: false,
        };
        for role in Role::ALL {
            let principal = seeded(role);
            // What auth::visibility gives each scope when a partner referred Acme.
            let organizations = auth::visibility::organization_set(principal.scope(), [acme]);
            let access = live_access(&principal, organizations);
            let staff = role.is_staff();
            assert_eq!(access.admits(&note), staff, "{role:?}");
            assert_eq!(
                access.admits(&reply),
                staff || role == Role::Partner,
                "{role:?}"
            );
            assert_eq!(access.admits(&elsewhere), staff, "{role:?}");
        }
        // A client sees its own organization's replies, not its notes.
        let client = seeded(Role::Client);
        let own = Uuid::from_u128(2);
        let access = live_access(
            &client,
            auth::visibility::organization_set(client.scope(), []),
        );
        assert!(access.admits(&Audience {
            organization_id: Some(own),
            staff_only: false,
        }));
        assert!(!access.admits(&Audience {
            organization_id: Some(own),
            staff_only: true,
        }));
    }

    #[test]
    fn only_a_client_reply_reopens_a_ticket_waiting_on_the_client() {
        for &kind in HistoryKind::ALL {
            for &status in TicketStatus::ALL {
                let expected =
                    kind == HistoryKind::ClientReply && status == TicketStatus::WaitingOnClient;
                assert_eq!(reopens(kind, status), expected, "{kind:?} {status:?}");
            }
        }
    }
}
