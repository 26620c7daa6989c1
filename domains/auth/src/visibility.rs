//! The one rule for "which client organizations may this principal see",
//! in the two forms the other domains need: a subquery for SQL lists and
//! lookups, and an [`OrganizationSet`] for filtering live events in memory.
//!
//! Staff see every organization; a client its own; a partner the clients it
//! referred; a freelancer none (freelancers reach rows through assignments).

use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::live::OrganizationSet;
use kernel::schema::organizations;
use kernel::{AccessScope, AppResult};
use uuid::Uuid;

/// `SELECT id FROM organizations WHERE ...` for the organizations `scope` may
/// see, or `None` when it may see all (staff), so that callers add no filter.
pub type OrganizationIds = diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::Select<organizations::table, organizations::id>,
    Pg,
>;

/// The subquery of organization ids visible to `scope`; `None` means every one.
pub fn visible_organization_ids(scope: AccessScope) -> Option<OrganizationIds> {
    let ids = organizations::table.select(organizations::id).into_boxed();
    match scope {
        AccessScope::Staff => None,
        AccessScope::ClientOrg(org) => Some(ids.filter(organizations::id.eq(org))),
        AccessScope::Partner(partner) => {
            Some(ids.filter(organizations::referred_by_partner_id.eq(partner)))
        }
        AccessScope::Assigned(_) => Some(ids.filter(sql::<Bool>("false"))),
    }
}

/// The set for `scope`, given the organizations a partner referred (ignored
/// for the other scopes).
pub fn organization_set(
    scope: AccessScope,
    referred: impl IntoIterator<Item = Uuid>,
) -> OrganizationSet {
    match scope {
        AccessScope::Staff => OrganizationSet::Every,
        AccessScope::ClientOrg(org) => OrganizationSet::Only([org].into()),
        AccessScope::Partner(_) => OrganizationSet::Only(referred.into_iter().collect()),
        AccessScope::Assigned(_) => OrganizationSet::none(),
    }
}

/// Loads the set for `scope` (one query, for partners only).
pub async fn load_organization_set(
    conn: &mut AsyncPgConnection,
    scope: AccessScope,
) -> AppResult<OrganizationSet> {
    let referred: Vec<Uuid> = match scope {
        AccessScope::Partner(partner) => {
            organizations::table
                .filter(organizations::referred_by_partner_id.eq(partner))
                .select(organizations::id)
                .load(conn)
                .await?
        }
        _ => Vec::new(),
    };
    Ok(organization_set(scope, referred))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scope_sees_the_organizations_the_rule_gives_it() {
        let acme = Uuid::from_u128(1);
        let globex = Uuid::from_u128(2);
        let partner = Uuid::from_u128(3);
        let staff = organization_set(AccessScope::Staff, []);
        assert!(staff.contains(acme) && staff.contains(globex));
        let client = organization_set(AccessScope::ClientOrg(acme), [globex]);
        assert!(client.contains(acme) && !client.contains(globex));
        let referrer = organization_set(AccessScope::Partner(partner), [acme]);
        assert!(referrer.contains(acme) && !referrer.contains(globex));
        assert!(
            !referrer.contains(partner),
            "a partner's own organization has no client rows"
        );
        let freelancer = organization_set(AccessScope::Assigned(Uuid::from_u128(9)), [acme]);
        assert!(!freelancer.contains(acme));
    }

    #[test]
    fn only_staff_go_without_a_filter() {
        assert!(visible_organization_ids(AccessScope::Staff).is_none());
        for scope in [
            AccessScope::ClientOrg(Uuid::from_u128(1)),
            AccessScope::Partner(Uuid::from_u128(3)),
            AccessScope::Assigned(Uuid::from_u128(9)),
        ] {
            assert!(visible_organization_ids(scope).is_some());
        }
    }
}
