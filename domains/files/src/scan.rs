//! Antivirus scans of quarantined uploads with ClamAV's clamd (INSTREAM):
//! the scan reads the checked copy under the file's final key, which no
//! presigned URL can write.

use std::sync::Arc;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use kernel::Db;
use kernel::outbox::{JobError, JobHandler, PayloadSecrets, async_trait};
use kernel::schema::files;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::model::FileStatus;
use crate::service::SCAN_FILE;
use crate::storage::ObjectStorage;

/// What clamd said about a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanVerdict {
    /// No signature matched.
    Clean,
    /// A signature matched; its name.
    Infected(String),
}

/// Parses clamd's reply to INSTREAM, e.g. `stream: OK` or `stream: Eicar-Signature FOUND`.
pub fn parse_reply(reply: &str) -> Result<ScanVerdict, String> {
    let reply = reply.trim_end_matches(['\0', '\n']).trim();
    let body = reply
        .strip_prefix("stream:")
        .map(str::trim)
        .unwrap_or(reply);
    if body == "OK" {
        Ok(ScanVerdict::Clean)
    } else if let Some(name) = body.strip_suffix("FOUND") {
        Ok(ScanVerdict::Infected(name.trim().to_string()))
    } else {
        Err(format!("clamd answered {body:?}"))
    }
}

/// Streams `data` to clamd at `addr` with the INSTREAM command.
pub async fn scan_bytes(addr: &str, data: &[u8]) -> Result<ScanVerdict, String> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot reach clamd: {e}"))?;
    stream
        .write_all(b"zINSTREAM\0")
        .await
        .map_err(|e| e.to_string())?;
    for chunk in data.chunks(64 * 1024) {
        stream
            .write_all(&(chunk.len() as u32).to_be_bytes())
            .await
            .map_err(|e| e.to_string())?;
        stream.write_all(chunk).await.map_err(|e| e.to_string())?;
    }
    stream
        .write_all(&0u32.to_be_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .await
        .map_err(|e| e.to_string())?;
    parse_reply(&String::from_utf8_lossy(&reply))
}

/// Runs [`SCAN_FILE`] jobs: available when clean, rejected (and deleted) when infected.
pub struct ScanFileHandler {
    /// The pool.
    pub db: Db,
    /// Where the object is.
    pub storage: Arc<dyn ObjectStorage>,
    /// clamd's host:port.
    pub clamd_addr: String,
}

#[async_trait]
impl JobHandler for ScanFileHandler {
    fn kind(&self) -> &'static str {
        SCAN_FILE
    }

    // Only the file's id.
    fn secrets(&self) -> PayloadSecrets {
        PayloadSecrets::None
    }

    async fn handle(&self, payload: &serde_json::Value) -> Result<(), JobError> {
        let file_id = payload
            .get("fileId")
            .and_then(|v| v.as_str())
            .and_then(|v| Uuid::parse_str(v).ok())
            .ok_or_else(|| JobError::permanent("payload has no fileId"))?;
        let mut conn = self
            .db
            .get()
            .await
            .map_err(|e| JobError::retryable(e.to_string()))?;
        let row: Option<(String, i64, FileStatus)> = files::table
            .find(file_id)
            .select((files::storage_key, files::size_bytes, files::status))
            .first(&mut conn)
            .await
            .optional()
            .map_err(|e| JobError::retryable(e.to_string()))?;
        let Some((key, size, status)) = row else {
            return Ok(());
        };
        if status != FileStatus::Quarantined {
            return Ok(());
        }
        let data = self
            .storage
            .read_prefix(&key, size.max(0) as usize)
            .await
            .map_err(|e| JobError::retryable(e.to_string()))?;
        let verdict = scan_bytes(&self.clamd_addr, &data)
            .await
            .map_err(JobError::retryable)?;
        let (status, reason) = match &verdict {
            ScanVerdict::Clean => (FileStatus::Available, None),
            ScanVerdict::Infected(name) => (
                FileStatus::Rejected,
                Some(format!("The antivirus scan found {name}")),
            ),
        };
        diesel::update(
            files::table
                .find(file_id)
                .filter(files::status.eq(FileStatus::Quarantined)),
        )
        .set((
            files::status.eq(status),
            files::rejection_reason.eq(reason),
            files::completed_at.eq(Utc::now()),
        ))
        .execute(&mut conn)
        .await
        .map_err(|e| JobError::retryable(e.to_string()))?;
        if matches!(verdict, ScanVerdict::Infected(_))
            && let Err(error) = self.storage.delete(&key).await
        {
            tracing::warn!(%error, file = %file_id, "could not delete an infected upload");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamd_replies_are_understood() {
        assert_eq!(parse_reply("stream: OK\0"), Ok(ScanVerdict::Clean));
        assert_eq!(
            parse_reply("stream: Eicar-Test-Signature FOUND\0"),
            Ok(ScanVerdict::Infected("Eicar-Test-Signature".into()))
        );
        assert!(parse_reply("INSTREAM size limit exceeded. ERROR\0").is_err());
    }
}
