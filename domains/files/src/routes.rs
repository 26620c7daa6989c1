//! `PUT`/`GET`/`HEAD /storage/{*key}`: the development object store served by
//! the API itself, behind HMAC-signed URLs issued by `requestUpload` and
//! `File.downloadUrl`. The same flow and checks as S3 presigned URLs; a PUT
//! to a key that holds an object is refused (412), as S3 does for
//! `If-None-Match: *`.

use std::sync::Arc;

use crate::storage::{LocalStorage, ObjectStorage, StorageError, content_disposition};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::io::ReaderStream;

/// Routes of the local store.
pub fn routes(storage: Arc<LocalStorage>) -> Router {
    Router::new()
        .route("/storage/{*key}", get(download).head(download).put(upload))
        .with_state(storage)
}

fn refuse(error: &StorageError) -> Response {
    let status = match error {
        StorageError::BadSignature | StorageError::Expired => StatusCode::FORBIDDEN,
        StorageError::NotFound => StatusCode::NOT_FOUND,
        StorageError::AlreadyExists => StatusCode::PRECONDITION_FAILED,
        StorageError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        StorageError::InvalidKey | StorageError::InvalidRequest(_) | StorageError::Body(_) => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(%error, "local storage failed");
    }
    // Never echo the URL: its query string is a credential.
    (status, status.canonical_reason().unwrap_or("error")).into_response()
}

async fn upload(
    State(storage): State<Arc<LocalStorage>>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let signed = match storage.verify("PUT", &key, query.as_deref().unwrap_or_default()) {
        Ok(signed) => signed,
        Err(error) => return refuse(&error),
    };
    // An upload URL always signs both; a download URL used for PUT has neither.
    let (Some(signed_type), Some(signed_length)) = (signed.content_type, signed.content_length)
    else {
        return refuse(&StorageError::BadSignature);
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.eq_ignore_ascii_case(&signed_type) {
        return refuse(&StorageError::BadSignature);
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length != signed_length) {
        return refuse(&StorageError::BadSignature);
    }
    // Refused before reading the body; the write itself refuses too, for races.
    match storage.head(&key).await {
        Ok(None) => {}
        Ok(Some(_)) => return refuse(&StorageError::AlreadyExists),
        Err(error) => return refuse(&error),
    }
    match storage
        .write_stream(&key, body.into_data_stream(), signed_length)
        .await
    {
        Ok(written) if written == signed_length => StatusCode::OK.into_response(),
        Ok(_) => {
            let _ = storage.delete(&key).await;
            (
                StatusCode::BAD_REQUEST,
                "The body is shorter than the signed length",
            )
                .into_response()
        }
        Err(error) => refuse(&error),
    }
}

async fn download(
    State(storage): State<Arc<LocalStorage>>,
    method: Method,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let signed = match storage.verify("GET", &key, query.as_deref().unwrap_or_default()) {
        Ok(signed) => signed,
        Err(error) => return refuse(&error),
    };
    let file = match storage.open(&key).await {
        Ok(file) => file,
        Err(error) => return refuse(&error),
    };
    let length = file.metadata().await.map(|m| m.len()).unwrap_or_default();
    let mut response = if method == Method::HEAD {
        StatusCode::OK.into_response()
    } else {
        Body::from_stream(ReaderStream::new(file)).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    // User-supplied bytes served from our own origin: never sniff, never run.
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Some(name) = signed.download_name
        && let Ok(value) = HeaderValue::from_str(&content_disposition(&name))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
