//! Who may read drafts and write the knowledge base.

use kernel::Principal;

/// The permission to write categories and articles and to read drafts.
pub const KB_WRITE: &str = "support:kb.write";

/// Whether the viewer (anonymous when `None`) may write the knowledge base and read drafts.
pub fn may_write(viewer: Option<&Principal>) -> bool {
    viewer.is_some_and(|principal| principal.has(KB_WRITE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tests::seeded;
    use kernel::Role;

    #[test]
    fn staff_write_the_knowledge_base_and_everyone_else_reads_published_articles() {
        assert!(
            !may_write(None),
            "anonymous readers see published articles only"
        );
        for role in Role::ALL {
            let writes = matches!(role, Role::SuperAdmin | Role::Admin | Role::Employee);
            assert_eq!(may_write(Some(&seeded(role))), writes, "{role:?}");
        }
    }
}
