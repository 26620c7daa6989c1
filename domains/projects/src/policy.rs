//! Pure rules of the projects domain.

use kernel::{AccessScope, Principal, Role};

use crate::model::TaskStatus;

/// Whether the caller may change tasks of a project, given whether they are a member.
/// Staff with `projects:task.write` may; freelancers only on projects they are members of;
/// clients and partners read only.
pub fn may_write_tasks(principal: &Principal, is_member: bool) -> bool {
    if !principal.has("projects:task.write") {
        return false;
    }
    match principal.scope() {
        AccessScope::Staff => true,
        AccessScope::Assigned(_) => is_member,
        AccessScope::ClientOrg(_) | AccessScope::Partner(_) => false,
    }
}

/// Whether a user of `role` can be a project member.
pub fn may_be_member(role: Role) -> bool {
    matches!(
        role,
        Role::SuperAdmin | Role::Admin | Role::Employee | Role::Freelancer
    )
}

/// The columns of the board, in display order.
pub const COLUMNS: [TaskStatus; 4] = [
    TaskStatus::Todo,
    TaskStatus::InProgress,
    TaskStatus::InReview,
    TaskStatus::Done,
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn principal(role: Role, permissions: &[&str]) -> Principal {
        Principal {
            user_id: uuid::Uuid::from_u128(1),
            role,
            org_id: uuid::Uuid::from_u128(2),
            permissions: permissions
                .iter()
                .map(|p| p.to_string())
                .collect::<BTreeSet<_>>(),
            session_id: uuid::Uuid::from_u128(3),
            expires_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn freelancers_write_only_on_their_projects_and_clients_never() {
        let write = ["projects:task.write"];
        assert!(may_write_tasks(&principal(Role::Employee, &write), false));
        assert!(may_write_tasks(&principal(Role::Freelancer, &write), true));
        assert!(!may_write_tasks(
            &principal(Role::Freelancer, &write),
            false
        ));
        assert!(!may_write_tasks(&principal(Role::Client, &write), true));
        assert!(!may_write_tasks(&principal(Role::Employee, &[]), true));
    }

    #[test]
    fn the_board_shows_every_column_once() {
        assert_eq!(COLUMNS.len(), TaskStatus::ALL.len());
        assert!(
            TaskStatus::ALL
                .iter()
                .all(|status| COLUMNS.contains(status))
        );
        assert_eq!(COLUMNS[0], TaskStatus::Todo);
        assert_eq!(COLUMNS[3], TaskStatus::Done);
    }

    #[test]
    fn only_agency_people_are_members() {
        assert!(may_be_member(Role::Freelancer));
        assert!(!may_be_member(Role::Client));
        assert!(!may_be_member(Role::Partner));
    }
}
