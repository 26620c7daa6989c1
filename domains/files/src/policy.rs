//! Pure rules of uploads and downloads.

use std::time::Duration;

use kernel::AppError;
use uuid::Uuid;

use crate::model::{FileRow, FileStatus, OwnerRef};
use crate::owner::OwnerAccess;

/// What uploads may be.
#[derive(Debug, Clone)]
pub struct UploadPolicy {
    /// Largest upload in bytes.
    pub max_bytes: u64,
    /// Content types accepted (lower-case, e.g. `application/pdf`).
    pub allowed_types: Vec<String>,
    /// How long an upload URL stays valid.
    pub upload_url_ttl: Duration,
    /// How long a download URL stays valid.
    pub download_url_ttl: Duration,
    /// Whether uploads stay quarantined until an antivirus scan passes.
    pub scan: bool,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        Self {
            max_bytes: 25 * 1024 * 1024,
            allowed_types: DEFAULT_ALLOWED_TYPES
                .iter()
                .map(|t| t.to_string())
                .collect(),
            upload_url_ttl: Duration::from_secs(15 * 60),
            download_url_ttl: Duration::from_secs(5 * 60),
            scan: false,
        }
    }
}

/// Types accepted by default: documents, images and archives an agency
/// exchanges with clients. SVG and HTML are left out: served back from our
/// origin they could run script.
pub const DEFAULT_ALLOWED_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "video/mp4",
];

impl UploadPolicy {
    /// Checks a declared size and type; answers the normalised type.
    pub fn check(&self, content_type: &str, size: i64) -> Result<String, AppError> {
        let content_type = content_type.trim().to_ascii_lowercase();
        if size < 1 || size as u64 > self.max_bytes {
            return Err(AppError::invalid_field(
                "input.size",
                format!(
                    "Files must be between 1 byte and {} MiB",
                    self.max_bytes / (1024 * 1024)
                ),
            ));
        }
        if !self
            .allowed_types
            .iter()
            .any(|allowed| allowed == &content_type)
        {
            return Err(AppError::invalid_field(
                "input.contentType",
                format!("Files of type {content_type} are not accepted"),
            ));
        }
        Ok(content_type)
    }
}

/// The owner an upload names: exactly one of project, task and ticket. For
/// clients of the shape before owners, a task may still come with its
/// project: then the task is the owner and the project must be the task's
/// (answered as the second value, checked against the owner's `within`).
pub fn choose_owner(
    project_id: Option<Uuid>,
    task_id: Option<Uuid>,
    ticket_id: Option<Uuid>,
) -> Result<(OwnerRef, Option<OwnerRef>), AppError> {
    match (project_id, task_id, ticket_id) {
        (Some(project), None, None) => Ok((OwnerRef::project(project), None)),
        (None, Some(task), None) => Ok((OwnerRef::task(task), None)),
        (Some(project), Some(task), None) => {
            Ok((OwnerRef::task(task), Some(OwnerRef::project(project))))
        }
        (None, None, Some(ticket)) => Ok((OwnerRef::ticket(ticket), None)),
        (None, None, None) => Err(AppError::invalid_field(
            "input.projectId",
            "Name the project, the task or the ticket the file belongs to",
        )),
        (_, _, Some(_)) => Err(AppError::invalid_field(
            "input.ticketId",
            "A file belongs to one owner: name the ticket alone",
        )),
    }
}

/// Whether a file is shown to someone with `access` to its owner.
pub fn visible(file: &FileRow, access: &OwnerAccess) -> bool {
    !file.internal || access.staff
}

/// Whether `user` (staff or not) may complete `file`'s upload.
pub fn may_complete(file: &FileRow, user: Uuid, staff: bool) -> bool {
    file.uploaded_by == user || staff
}

/// Whether a download URL may be handed out for the file.
pub fn downloadable(file: &FileRow) -> bool {
    file.status == FileStatus::Available
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

/// Extensions that fit a content type, the usual one first.
fn extensions_of(content_type: &str) -> &'static [&'static str] {
    match content_type {
        "application/pdf" => &["pdf"],
        "image/png" => &["png"],
        "image/jpeg" => &["jpg", "jpeg"],
        "image/gif" => &["gif"],
        "image/webp" => &["webp"],
        "text/plain" => &["txt", "text", "log", "md"],
        "text/csv" => &["csv"],
        "application/zip" => &["zip"],
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => &["docx"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => &["xlsx"],
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => &["pptx"],
        "video/mp4" => &["mp4"],
        _ => &[],
    }
}

/// The name a download carries: the file's name with an extension that fits
/// its checked content type, so `report.exe` checked as a PDF downloads as
/// `report.pdf` and no operating system opens it as something else.
pub fn download_name(filename: &str, content_type: &str) -> String {
    let extensions = extensions_of(content_type);
    let Some(usual) = extensions.first() else {
        return filename.to_string();
    };
    let (stem, extension) = match filename.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => (stem, Some(extension)),
        _ => (filename, None),
    };
    match extension {
        Some(extension)
            if extensions
                .iter()
                .any(|fits| fits.eq_ignore_ascii_case(extension)) =>
        {
            filename.to_string()
        }
        _ => format!("{stem}.{usual}"),
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

/// How many first bytes [`check_magic`] looks at.
pub const MAGIC_PREFIX: usize = 64;

/// Checks bytes read back from an upload against what was declared.
pub fn check_upload(content_type: &str, declared_size: i64, bytes: &[u8]) -> Result<(), String> {
    if bytes.len() as u64 != declared_size.max(0) as u64 {
        return Err(format!(
            "The upload has {} bytes, {declared_size} were declared",
            bytes.len()
        ));
    }
    check_magic(content_type, &bytes[..bytes.len().min(MAGIC_PREFIX)])
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

    #[test]
    fn uploads_must_have_the_declared_size_and_type() {
        assert!(check_upload("application/pdf", 8, b"%PDF-1.7").is_ok());
        assert!(check_upload("application/pdf", 9, b"%PDF-1.7").is_err());
        assert!(check_upload("application/pdf", 2, b"MZ").is_err());
    }

    #[test]
    fn download_names_carry_the_extension_of_the_checked_type() {
        assert_eq!(download_name("report.exe", "application/pdf"), "report.pdf");
        assert_eq!(download_name("report.PDF", "application/pdf"), "report.PDF");
        assert_eq!(download_name("scan", "image/png"), "scan.png");
        assert_eq!(download_name("photo.jpeg", "image/jpeg"), "photo.jpeg");
        assert_eq!(download_name("photo.png", "image/jpeg"), "photo.jpg");
        assert_eq!(download_name(".pdf", "application/pdf"), ".pdf.pdf");
        assert_eq!(download_name("notes.md", "text/plain"), "notes.md");
        assert_eq!(download_name("a.b", "application/x-unknown"), "a.b");
    }

    #[test]
    fn an_upload_names_exactly_one_owner() {
        let (p, t, k) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            choose_owner(Some(p), None, None).expect("one"),
            (OwnerRef::project(p), None)
        );
        assert_eq!(
            choose_owner(None, Some(t), None).expect("one"),
            (OwnerRef::task(t), None)
        );
        assert_eq!(
            choose_owner(Some(p), Some(t), None).expect("a task with its project"),
            (OwnerRef::task(t), Some(OwnerRef::project(p)))
        );
        assert_eq!(
            choose_owner(None, None, Some(k)).expect("one"),
            (OwnerRef::ticket(k), None)
        );
        let none = choose_owner(None, None, None).expect_err("none");
        assert_eq!(none.code(), kernel::ErrorCode::BadUserInput);
        let two = choose_owner(Some(p), None, Some(k)).expect_err("two");
        assert_eq!(two.fields()[0].field, "input.ticketId");
    }
}
