//! Who may do what with the files of an owner: the owning domain answers,
//! through [`FileOwner`], so this crate depends on none of its owners.
//!
//! Each owning domain implements [`FileOwner`] for its kinds, reading only its
//! own tables; the server registers every implementation once (the owners
//! part of the domain list in the api crate) into a [`FileOwners`] registry
//! that sits in the schema data.

use std::collections::HashMap;
use std::sync::Arc;

use diesel_async::AsyncPgConnection;
use kernel::domain::BoxFuture;
use kernel::{AppError, AppResult, Principal};
use uuid::Uuid;

use crate::model::{FileOwnerKind, OwnerRef};

/// What a principal may do with the files of one owner it can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerAccess {
    /// May attach new files (the upload permission is checked separately).
    pub may_attach: bool,
    /// Staff for this owner: sees staff-only (`internal`) files and may
    /// mark uploads internal.
    pub staff: bool,
    /// The owner this one belongs to (a task's project), if any.
    pub within: Option<OwnerRef>,
}

/// An owning domain's answer for one kind of owner.
pub trait FileOwner: Send + Sync + 'static {
    /// The kind it answers for.
    fn kind(&self) -> FileOwnerKind;

    /// What `principal` may do with files of owner `id`; `NOT_FOUND` when
    /// the owner does not exist or lies outside the principal's scope.
    fn access<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        principal: &'a Principal,
        id: Uuid,
    ) -> BoxFuture<'a, AppResult<OwnerAccess>>;
}

/// Every registered [`FileOwner`], by kind.
#[derive(Clone, Default)]
pub struct FileOwners(Arc<HashMap<FileOwnerKind, Arc<dyn FileOwner>>>);

impl std::fmt::Debug for FileOwners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl FileOwners {
    /// The registry of `owners`.
    ///
    /// # Panics
    /// When two owners answer for the same kind: a wiring mistake that must
    /// stop the server at start.
    pub fn new(owners: Vec<Arc<dyn FileOwner>>) -> Self {
        let mut by_kind = HashMap::new();
        for owner in owners {
            let kind = owner.kind();
            assert!(
                by_kind.insert(kind, owner).is_none(),
                "two file owners answer for {kind:?}"
            );
        }
        Self(Arc::new(by_kind))
    }

    /// The kinds registered.
    pub fn kinds(&self) -> Vec<FileOwnerKind> {
        let mut kinds: Vec<_> = self.0.keys().copied().collect();
        kinds.sort_by_key(|kind| kind.as_db());
        kinds
    }

    /// What `principal` may do with files of `owner`; `NOT_FOUND` for owners
    /// outside its scope and for kinds nobody registered.
    pub async fn access(
        &self,
        conn: &mut AsyncPgConnection,
        principal: &Principal,
        owner: OwnerRef,
    ) -> AppResult<OwnerAccess> {
        let answer = self
            .0
            .get(&owner.kind)
            .ok_or_else(|| AppError::not_found(owner.kind.as_db()))?;
        answer.access(conn, principal, owner.id).await
    }
}
