//! Use cases of files: presigned uploads checked on completion, downloads for
//! those the owner's domain lets see them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::pagination::Page;
use kernel::schema::files;
use kernel::{AppError, Db, Principal};
use uuid::Uuid;

use crate::model::{FileOwnerKind, FileRow, FileStatus, NewFile, OwnerRef};
use crate::owner::{FileOwners, OwnerAccess};
use crate::policy::{self, UploadPolicy};
use crate::storage::{ObjectStorage, PresignedRequest, StorageError};

/// Job kind of an antivirus scan.
pub const SCAN_FILE: &str = "files.scan";

/// The permission `requestUpload` needs.
pub const UPLOAD_PERMISSION: &str = "files:file.upload";

/// Input of `requestUpload`.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    /// Project, for a project file (or the task's project, with `task_id`).
    pub project_id: Option<Uuid>,
    /// Task, for a task file.
    pub task_id: Option<Uuid>,
    /// Ticket, for a ticket attachment.
    pub ticket_id: Option<Uuid>,
    /// Staff only.
    pub internal: bool,
    /// Name as the user's computer had it.
    pub filename: String,
    /// Declared type.
    pub content_type: String,
    /// Declared size in bytes.
    pub size: i64,
}

/// A pending file and how to upload it.
#[derive(Debug, Clone)]
pub struct UploadTicket {
    /// The pending file.
    pub file: FileRow,
    /// The PUT the client makes.
    pub request: PresignedRequest,
}

/// The files domain's service.
pub struct FilesService {
    db: Db,
    storage: Arc<dyn ObjectStorage>,
    uploads: UploadPolicy,
}

impl FilesService {
    /// A service on the pool, keeping files in `storage`.
    pub fn new(db: Db, storage: Arc<dyn ObjectStorage>, uploads: UploadPolicy) -> Self {
        Self {
            db,
            storage,
            uploads,
        }
    }

    /// Where files are kept.
    pub fn storage(&self) -> &Arc<dyn ObjectStorage> {
        &self.storage
    }

    /// Validates an upload and answers a presigned PUT for a new pending file.
    pub async fn request_upload(
        &self,
        owners: &FileOwners,
        principal: &Principal,
        input: UploadRequest,
    ) -> Result<UploadTicket, AppError> {
        principal.require(UPLOAD_PERMISSION)?;
        let content_type = self.uploads.check(&input.content_type, input.size)?;
        let (owner, expected_within) =
            policy::choose_owner(input.project_id, input.task_id, input.ticket_id)?;
        let filename = policy::sanitize_filename(&input.filename);
        let mut conn = self.db.get().await?;
        let access = owners.access(&mut conn, principal, owner).await?;
        if expected_within.is_some() && access.within != expected_within {
            return Err(AppError::invalid_field(
                "input.taskId",
                "No such task in this project",
            ));
        }
        if !access.may_attach {
            return Err(AppError::forbidden("You may not attach files here"));
        }
        if input.internal && !access.staff {
            return Err(AppError::forbidden(
                "Only staff may upload staff-only files",
            ));
        }
        let id = Uuid::now_v7();
        // A key of its own for every upload; the checked bytes go to a
        // second key that no presigned URL can write.
        let upload_key = format!("uploads/{id}");
        let storage_key = final_key(owner, id, &filename);
        let request = self
            .storage
            .presign_put(
                &upload_key,
                &content_type,
                input.size as u64,
                self.uploads.upload_url_ttl,
            )
            .map_err(AppError::internal)?;
        let within_project = access
            .within
            .filter(|within| within.kind == FileOwnerKind::Project)
            .map(|within| within.id);
        let new = NewFile {
            id,
            owner_kind: owner.kind,
            owner_id: owner.id,
            internal: input.internal,
            uploaded_by: principal.user_id,
            filename,
            content_type,
            size_bytes: input.size,
            storage_key,
            upload_key: Some(upload_key),
            project_id: match owner.kind {
                FileOwnerKind::Project => Some(owner.id),
                FileOwnerKind::Task => within_project,
                FileOwnerKind::Ticket => None,
            },
            task_id: (owner.kind == FileOwnerKind::Task).then_some(owner.id),
            ticket_id: (owner.kind == FileOwnerKind::Ticket).then_some(owner.id),
        };
        let file: FileRow = diesel::insert_into(files::table)
            .values(&new)
            .returning(FileRow::as_returning())
            .get_result(&mut conn)
            .await?;
        Ok(UploadTicket { file, request })
    }

    /// Reads the uploaded object once, checks its size and magic bytes, and
    /// stores exactly those bytes under the file's final key: `AVAILABLE`,
    /// `REJECTED` with the reason, or `QUARANTINED` until the antivirus scan.
    pub async fn complete_upload(
        &self,
        owners: &FileOwners,
        principal: &Principal,
        file_id: Uuid,
    ) -> Result<FileRow, AppError> {
        let mut conn = self.db.get().await?;
        let (file, _) = self
            .visible_file(&mut conn, owners, principal, file_id)
            .await?;
        if !policy::may_complete(&file, principal.user_id, principal.role.is_staff()) {
            return Err(AppError::forbidden("Only the uploader completes an upload"));
        }
        let (FileStatus::Pending, Some(upload_key)) = (file.status, file.upload_key.clone()) else {
            return Ok(file);
        };
        // One more byte than declared tells a longer upload from an exact one.
        let read = self
            .storage
            .read_prefix(&upload_key, file.size_bytes.max(0) as usize + 1)
            .await;
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(StorageError::NotFound) => {
                return Err(AppError::invalid_field(
                    "fileId",
                    "Nothing has been uploaded for this file yet",
                ));
            }
            Err(error) => return Err(AppError::internal(error)),
        };
        // Rows requested before uploads had keys of their own were uploaded
        // to their final key; their checked bytes move to a fresh one.
        let storage_key = if upload_key == file.storage_key {
            final_key(file.owner(), file.id, &file.filename)
        } else {
            file.storage_key.clone()
        };
        let verdict = policy::check_upload(&file.content_type, file.size_bytes, &bytes);
        if verdict.is_ok() {
            match self
                .storage
                .put_new(&storage_key, &file.content_type, bytes)
                .await
            {
                Ok(()) => {}
                // Another completion of the same file stored its bytes first.
                Err(StorageError::AlreadyExists) => {
                    return self
                        .visible_file(&mut conn, owners, principal, file_id)
                        .await
                        .map(|(file, _)| file);
                }
                Err(error) => return Err(AppError::internal(error)),
            }
        }
        let (status, reason) = match verdict {
            Ok(()) if self.uploads.scan => (FileStatus::Quarantined, None),
            Ok(()) => (FileStatus::Available, None),
            Err(reason) => (FileStatus::Rejected, Some(reason)),
        };
        let updated = conn
            .transaction::<_, AppError, _>(async |conn| {
                let updated: Option<FileRow> = diesel::update(
                    files::table
                        .find(file.id)
                        .filter(files::status.eq(FileStatus::Pending)),
                )
                .set((
                    files::status.eq(status),
                    files::rejection_reason.eq(&reason),
                    files::completed_at.eq(Utc::now()),
                    files::storage_key.eq(&storage_key),
                    files::upload_key.eq(None::<String>),
                ))
                .returning(FileRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
                if updated.is_some() && status == FileStatus::Quarantined {
                    kernel::outbox::enqueue(
                        conn,
                        SCAN_FILE,
                        serde_json::json!({ "fileId": file.id }),
                    )
                    .await?;
                }
                Ok(updated)
            })
            .await?;
        // The uploaded object is never served: the checked copy is.
        if let Err(error) = self.storage.delete(&upload_key).await {
            tracing::warn!(%error, file = %file.id, "could not delete an upload");
        }
        match updated {
            Some(updated) => Ok(updated),
            // Completed concurrently; answer the current state.
            None => self
                .visible_file(&mut conn, owners, principal, file_id)
                .await
                .map(|(file, _)| file),
        }
    }

    /// A file and the caller's access to its owner; `NOT_FOUND` when the
    /// owner is out of scope or the file is staff-only and the caller not staff.
    async fn visible_file(
        &self,
        conn: &mut AsyncPgConnection,
        owners: &FileOwners,
        principal: &Principal,
        file_id: Uuid,
    ) -> Result<(FileRow, OwnerAccess), AppError> {
        let not_found = || AppError::not_found("file");
        let file = crate::repo::find(conn, file_id)
            .await?
            .ok_or_else(not_found)?;
        let access = owners
            .access(conn, principal, file.owner())
            .await
            .map_err(|error| error.unless_server_failure(not_found))?;
        if !policy::visible(&file, &access) {
            return Err(not_found());
        }
        Ok((file, access))
    }

    /// A file the caller may see.
    pub async fn file(
        &self,
        owners: &FileOwners,
        principal: &Principal,
        file_id: Uuid,
    ) -> Result<FileRow, AppError> {
        let mut conn = self.db.get().await?;
        self.visible_file(&mut conn, owners, principal, file_id)
            .await
            .map(|(file, _)| file)
    }

    /// What `principal` may do with files of `owner` (for the owner a task
    /// belongs to, and the like).
    pub async fn access(
        &self,
        owners: &FileOwners,
        principal: &Principal,
        owner: OwnerRef,
    ) -> Result<OwnerAccess, AppError> {
        let mut conn = self.db.get().await?;
        owners.access(&mut conn, principal, owner).await
    }

    /// Files of one owner the caller may see, oldest first.
    pub async fn files_of(
        &self,
        owners: &FileOwners,
        principal: &Principal,
        owner: OwnerRef,
    ) -> Result<Vec<FileRow>, AppError> {
        let mut conn = self.db.get().await?;
        let access = owners.access(&mut conn, principal, owner).await?;
        crate::repo::of_owner(&mut conn, owner, access.staff).await
    }

    /// Files of `owner` and of the owners inside it (a project's tasks) the
    /// caller may see, newest first; access is `owner`'s.
    pub async fn page_of(
        &self,
        owners: &FileOwners,
        principal: &Principal,
        owner: OwnerRef,
        inside: &[OwnerRef],
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Page<FileRow>, AppError> {
        let mut conn = self.db.get().await?;
        let access = owners.access(&mut conn, principal, owner).await?;
        let mut all = Vec::with_capacity(inside.len() + 1);
        all.push(owner);
        all.extend_from_slice(inside);
        crate::repo::page_of_owners(&mut conn, &all, access.staff, after, limit).await
    }

    /// A short-lived download URL, only for available files; the name's
    /// extension follows the checked content type.
    pub fn download_url(
        &self,
        file: &FileRow,
    ) -> Result<Option<(String, DateTime<Utc>)>, AppError> {
        if !policy::downloadable(file) {
            return Ok(None);
        }
        let name = policy::download_name(&file.filename, &file.content_type);
        let request = self
            .storage
            .presign_get(
                &file.storage_key,
                self.uploads.download_url_ttl,
                Some(&name),
            )
            .map_err(AppError::internal)?;
        Ok(Some((request.url, request.expires_at)))
    }
}

/// Where a file's checked bytes live: by owner, then file id.
fn final_key(owner: OwnerRef, id: Uuid, filename: &str) -> String {
    format!("files/{}/{}/{id}/{filename}", owner.kind.as_db(), owner.id)
}
