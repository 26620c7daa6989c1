//! Files: presigned uploads checked on completion, downloads for those who may
//! see the project.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use kernel::schema::{files, tasks};
use kernel::storage::PresignedRequest;
use kernel::{AppError, Principal};
use uuid::Uuid;

use crate::model::FileRow;
use crate::repo::find_visible;
use crate::service::{Page, ProjectsService};

/// Job kind of an antivirus scan.
pub const SCAN_FILE: &str = "files.scan";

/// Input of `requestUpload`.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    /// Project, for a project file.
    pub project_id: Option<Uuid>,
    /// Ticket, for a ticket attachment.
    pub ticket_id: Option<Uuid>,
    /// Task of that project, if any.
    pub task_id: Option<Uuid>,
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

/// A filename safe for storage keys and `Content-Disposition`: letters, digits,
/// `.`, `-`, `_` and spaces; no leading dots; at most 120 characters.
pub fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    cleaned = cleaned.trim().trim_start_matches('.').to_string();
    while cleaned.contains("__") {
        cleaned = cleaned.replace("__", "_");
    }
    if cleaned.chars().count() > 120 {
        // Keep the extension when shortening.
        let extension = cleaned
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_string())
            .filter(|ext| ext.len() <= 10);
        let stem: String = cleaned.chars().take(100).collect();
        cleaned = match extension {
            Some(ext) => format!("{stem}.{ext}"),
            None => stem,
        };
    }
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '_') {
        "file".to_string()
    } else {
        cleaned
    }
}

/// Whether the first bytes of an object fit its declared type; `Err` says why not.
pub fn check_magic(content_type: &str, prefix: &[u8]) -> Result<(), String> {
    let starts = |magic: &[u8]| prefix.starts_with(magic);
    let ok = match content_type {
        "image/png" => starts(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => starts(b"\xFF\xD8\xFF"),
        "image/gif" => starts(b"GIF87a") || starts(b"GIF89a"),
        "image/webp" => starts(b"RIFF") && prefix.get(8..12) == Some(b"WEBP"),
        "application/pdf" => starts(b"%PDF-"),
        "application/zip"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
            starts(b"PK\x03\x04") || starts(b"PK\x05\x06")
        }
        "video/mp4" => prefix.get(4..8) == Some(b"ftyp"),
        "text/plain" | "text/csv" => {
            !prefix.contains(&0)
                && match std::str::from_utf8(prefix) {
                    Ok(_) => true,
                    // The prefix may end inside a multi-byte character.
                    Err(error) => error.error_len().is_none(),
                }
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("The content does not look like {content_type}"))
    }
}

impl ProjectsService {
    /// Validates an upload and answers a presigned PUT for a new pending file.
    pub async fn request_upload(
        &self,
        principal: &Principal,
        input: UploadRequest,
    ) -> Result<UploadTicket, AppError> {
        principal.require("projects:file.upload")?;
        let policy = self.uploads();
        let content_type = input.content_type.trim().to_ascii_lowercase();
        if input.size < 1 || input.size as u64 > policy.max_bytes {
            return Err(AppError::invalid_field(
                "input.size",
                format!(
                    "Files must be between 1 byte and {} MiB",
                    policy.max_bytes / (1024 * 1024)
                ),
            ));
        }
        if !policy
            .allowed_types
            .iter()
            .any(|allowed| allowed == &content_type)
        {
            return Err(AppError::invalid_field(
                "input.contentType",
                format!("Files of type {content_type} are not accepted"),
            ));
        }
        let filename = sanitize_filename(&input.filename);
        let mut conn = self.db().get().await?;
        if let Some(project_id) = input.project_id {
            find_visible(&mut conn, principal.scope(), project_id).await?;
        }
        if let Some(ticket_id) = input.ticket_id {
            ticket_visible(&mut conn, principal, ticket_id).await?;
        }
        if let Some(task_id) = input.task_id {
            let in_project: Option<Uuid> = tasks::table
                .find(task_id)
                .filter(tasks::project_id.nullable().eq(input.project_id))
                .select(tasks::id)
                .first(&mut conn)
                .await
                .optional()?;
            if in_project.is_none() {
                return Err(AppError::invalid_field(
                    "input.taskId",
                    "No such task in this project",
                ));
            }
        }
        let id = Uuid::now_v7();
        let key = match (input.project_id, input.ticket_id) {
            (Some(project), _) => format!("projects/{project}/{id}/{filename}"),
            (None, Some(ticket)) => format!("tickets/{ticket}/{id}/{filename}"),
            (None, None) => {
                return Err(AppError::invalid_field(
                    "input.projectId",
                    "Name the project or the ticket the file belongs to",
                ));
            }
        };
        let request = self
            .storage()
            .presign_put(
                &key,
                &content_type,
                input.size as u64,
                policy.upload_url_ttl,
            )
            .map_err(AppError::internal)?;
        let file: FileRow = diesel::insert_into(files::table)
            .values((
                files::id.eq(id),
                files::project_id.eq(input.project_id),
                files::ticket_id.eq(input.ticket_id),
                files::task_id.eq(input.task_id),
                files::uploaded_by.eq(principal.user_id),
                files::filename.eq(&filename),
                files::content_type.eq(&content_type),
                files::size_bytes.eq(input.size),
                files::storage_key.eq(&key),
            ))
            .returning(FileRow::as_returning())
            .get_result(&mut conn)
            .await?;
        Ok(UploadTicket { file, request })
    }

    /// Checks an uploaded object's size and magic bytes: `AVAILABLE`,
    /// `REJECTED` with the reason, or `QUARANTINED` until the antivirus scan.
    pub async fn complete_upload(
        &self,
        principal: &Principal,
        file_id: Uuid,
    ) -> Result<FileRow, AppError> {
        let mut conn = self.db().get().await?;
        let file = self.visible_file(&mut conn, principal, file_id).await?;
        if file.uploaded_by != principal.user_id && !principal.role.is_staff() {
            return Err(AppError::forbidden("Only the uploader completes an upload"));
        }
        if file.status != "pending" {
            return Ok(file);
        }
        let storage = self.storage();
        let Some(info) = storage
            .head(&file.storage_key)
            .await
            .map_err(AppError::internal)?
        else {
            return Err(AppError::invalid_field(
                "fileId",
                "Nothing has been uploaded for this file yet",
            ));
        };
        let verdict = if info.size != file.size_bytes as u64 {
            Err(format!(
                "The upload has {} bytes, {} were declared",
                info.size, file.size_bytes
            ))
        } else {
            let prefix = storage
                .read_prefix(&file.storage_key, 64)
                .await
                .map_err(AppError::internal)?;
            check_magic(&file.content_type, &prefix)
        };
        let (status, reason) = match verdict {
            Ok(()) if self.uploads().scan => ("quarantined", None),
            Ok(()) => ("available", None),
            Err(reason) => ("rejected", Some(reason)),
        };
        let updated = conn
            .transaction::<_, AppError, _>(async |conn| {
                let updated: Option<FileRow> = diesel::update(
                    files::table
                        .find(file.id)
                        .filter(files::status.eq("pending")),
                )
                .set((
                    files::status.eq(status),
                    files::rejection_reason.eq(&reason),
                    files::completed_at.eq(Utc::now()),
                ))
                .returning(FileRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
                if updated.is_some() && status == "quarantined" {
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
        let Some(updated) = updated else {
            // Completed concurrently; answer the current state.
            return self.visible_file(&mut conn, principal, file_id).await;
        };
        if status == "rejected" {
            // Rejected bytes are never served; keep only the record.
            if let Err(error) = storage.delete(&file.storage_key).await {
                tracing::warn!(%error, file = %file.id, "could not delete a rejected upload");
            }
        }
        Ok(updated)
    }

    async fn visible_file(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        principal: &Principal,
        file_id: Uuid,
    ) -> Result<FileRow, AppError> {
        let file: FileRow = files::table
            .find(file_id)
            .select(FileRow::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::not_found("file"))?;
        let visible = match (file.project_id, file.ticket_id) {
            (Some(project), _) => find_visible(conn, principal.scope(), project)
                .await
                .map(|_| ()),
            (None, Some(ticket)) => ticket_visible(conn, principal, ticket).await,
            (None, None) => Err(AppError::not_found("file")),
        };
        visible.map_err(|_| AppError::not_found("file"))?;
        Ok(file)
    }

    /// A file of a project the caller may see.
    pub async fn file(&self, principal: &Principal, file_id: Uuid) -> Result<FileRow, AppError> {
        let mut conn = self.db().get().await?;
        self.visible_file(&mut conn, principal, file_id).await
    }

    /// A short-lived download URL, only for available files.
    pub fn download_url(
        &self,
        file: &FileRow,
    ) -> Result<Option<(String, DateTime<Utc>)>, AppError> {
        if file.status != "available" {
            return Ok(None);
        }
        let request = self
            .storage()
            .presign_get(
                &file.storage_key,
                self.uploads().download_url_ttl,
                Some(&file.filename),
            )
            .map_err(AppError::internal)?;
        Ok(Some((request.url, request.expires_at)))
    }

    /// Attachments of a ticket (the caller already sees it), oldest first.
    pub async fn ticket_files(&self, ticket_id: Uuid) -> Result<Vec<FileRow>, AppError> {
        let mut conn = self.db().get().await?;
        Ok(files::table
            .filter(files::ticket_id.eq(ticket_id))
            .order(files::id.asc())
            .select(FileRow::as_select())
            .load(&mut conn)
            .await?)
    }

    /// Files of a project (the caller already sees it), newest first.
    pub async fn project_files(
        &self,
        project_id: Uuid,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Page<FileRow>, AppError> {
        let mut conn = self.db().get().await?;
        let total: i64 = files::table
            .filter(files::project_id.eq(project_id))
            .count()
            .get_result(&mut conn)
            .await?;
        let mut query = files::table
            .filter(files::project_id.eq(project_id))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(files::id.lt(after));
        }
        let rows: Vec<FileRow> = query
            .order(files::id.desc())
            .limit(limit as i64 + 1)
            .select(FileRow::as_select())
            .load(&mut conn)
            .await?;
        Ok(Page::from_overfetch(rows, limit, total))
    }
}

/// Whether a ticket's organization is the caller's (or the caller is staff).
/// Tickets belong to the support domain, which builds on this one; this check
/// reads its table rather than depending on it.
async fn ticket_visible(
    conn: &mut diesel_async::AsyncPgConnection,
    principal: &Principal,
    ticket_id: Uuid,
) -> Result<(), AppError> {
    let organization: Option<Uuid> = kernel::schema::tickets::table
        .find(ticket_id)
        .select(kernel::schema::tickets::organization_id)
        .first(conn)
        .await
        .optional()?;
    match (organization, principal.scope()) {
        (Some(_), kernel::AccessScope::Staff) => Ok(()),
        (Some(org), kernel::AccessScope::ClientOrg(own)) if org == own => Ok(()),
        _ => Err(AppError::not_found("ticket")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_lose_paths_and_unsafe_characters() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(
            sanitize_filename("C:\\Users\\me\\Invoice #12.pdf"),
            "Invoice _12.pdf"
        );
        assert_eq!(sanitize_filename(".hidden"), "hidden");
        assert_eq!(sanitize_filename("प्रस्ताव.pdf"), "_.pdf");
        assert_eq!(sanitize_filename(""), "file");
        let long = format!("{}.docx", "a".repeat(300));
        let cleaned = sanitize_filename(&long);
        assert!(
            cleaned.len() <= 120 && cleaned.ends_with(".docx"),
            "{cleaned}"
        );
    }

    #[test]
    fn magic_bytes_must_match_the_declared_type() {
        assert!(check_magic("image/png", b"\x89PNG\r\n\x1a\nrest").is_ok());
        assert!(check_magic("image/png", b"%PDF-1.7").is_err());
        assert!(check_magic("application/pdf", b"%PDF-1.7\n").is_ok());
        assert!(check_magic("image/webp", b"RIFF\0\0\0\0WEBPVP8 ").is_ok());
        assert!(check_magic("text/plain", "नमस्ते".as_bytes()).is_ok());
        assert!(check_magic("text/plain", &"नमस्ते".as_bytes()[..4]).is_ok());
        assert!(check_magic("text/plain", b"MZ\0\0binary").is_err());
        assert!(check_magic("application/x-msdownload", b"MZ").is_err());
    }
}
