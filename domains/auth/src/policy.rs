//! Pure rules about who may do what to whom.

use kernel::Role;

use crate::model::OrganizationKind;

/// The kind of organization a user of `role` belongs to.
pub fn organization_kind_for(role: Role) -> OrganizationKind {
    match role {
        Role::SuperAdmin | Role::Admin | Role::Employee | Role::Freelancer => {
            OrganizationKind::Agency
        }
        Role::Client => OrganizationKind::Client,
        Role::Partner => OrganizationKind::Partner,
    }
}

/// Whether `actor` may give `role` to someone (by invitation or role change).
/// Only a super-admin creates or changes admins; employees invite clients and freelancers.
pub fn may_grant(actor: Role, role: Role) -> bool {
    match actor {
        Role::SuperAdmin => true,
        Role::Admin => !matches!(role, Role::SuperAdmin | Role::Admin),
        Role::Employee => matches!(role, Role::Client | Role::Freelancer),
        Role::Client | Role::Freelancer | Role::Partner => false,
    }
}

/// Whether `actor` may change or disable a user whose role is `target`.
pub fn may_manage(actor: Role, target: Role) -> bool {
    match actor {
        Role::SuperAdmin => true,
        Role::Admin => !matches!(target, Role::SuperAdmin | Role::Admin),
        _ => false,
    }
}

/// Whether `create-user`, given only a name, may add a user to the existing
/// organization of that name: only while nobody is in it and no partner
/// referred it. Otherwise whoever registered or referred the name first would
/// control the organization the real company's people land in; joining such
/// an organization takes its id.
pub fn joinable_by_name(users: i64, referred_by_partner: bool) -> bool {
    users == 0 && !referred_by_partner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_empty_unreferred_organization_is_joined_by_its_name() {
        assert!(joinable_by_name(0, false));
        assert!(!joinable_by_name(1, false));
        assert!(!joinable_by_name(0, true));
        assert!(!joinable_by_name(3, true));
    }

    #[test]
    fn only_super_admins_create_or_change_admins() {
        assert!(may_grant(Role::SuperAdmin, Role::Admin));
        assert!(!may_grant(Role::Admin, Role::Admin));
        assert!(!may_grant(Role::Admin, Role::SuperAdmin));
        assert!(may_grant(Role::Admin, Role::Employee));
        assert!(!may_manage(Role::Admin, Role::Admin));
        assert!(may_manage(Role::SuperAdmin, Role::Admin));
    }

    #[test]
    fn employees_invite_only_clients_and_freelancers() {
        assert!(may_grant(Role::Employee, Role::Client));
        assert!(may_grant(Role::Employee, Role::Freelancer));
        assert!(!may_grant(Role::Employee, Role::Employee));
        assert!(!may_manage(Role::Employee, Role::Client));
    }

    #[test]
    fn outsiders_grant_nothing() {
        for role in Role::ALL {
            assert!(!may_grant(Role::Client, role));
            assert!(!may_grant(Role::Partner, role));
            assert!(!may_grant(Role::Freelancer, role));
        }
    }

    #[test]
    fn each_role_lives_in_its_kind_of_organization() {
        assert_eq!(
            organization_kind_for(Role::Freelancer),
            OrganizationKind::Agency
        );
        assert_eq!(
            organization_kind_for(Role::Client),
            OrganizationKind::Client
        );
        assert_eq!(
            organization_kind_for(Role::Partner),
            OrganizationKind::Partner
        );
    }
}
