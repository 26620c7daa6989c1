//! Object storage against a real S3-compatible server (`s3s-fs`), which checks
//! SigV4 signatures: presigned uploads and downloads made by a plain HTTP
//! client, the server's own header-signed HEAD, ranged GET and DELETE, and the
//! requests the store must refuse.

use std::time::Duration;

use files::storage::{ObjectInfo, ObjectStorage, PresignedRequest, S3Storage, StorageError};
use fluxorae_tests::s3::S3Server;

const MINUTES_5: Duration = Duration::from_secs(300);

fn bucket() -> String {
    format!("t-{}", uuid::Uuid::new_v4().simple())
}

/// Sends a presigned request the way a browser or script would: the URL, the
/// headers exactly as given, and the body.
async fn send(request: &PresignedRequest, body: Vec<u8>) -> reqwest::Response {
    send_with(request, body, request.headers.clone()).await
}

async fn send_with(
    request: &PresignedRequest,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
    let mut builder = fluxorae_tests::http_client().request(method, &request.url);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    if request.method == "PUT" {
        builder = builder.body(body);
    }
    builder.send().await.expect("send")
}

/// The headers the PUT was signed with (If-None-Match among them), but with
/// `content_type` as its Content-Type; reqwest sets Content-Length itself.
fn only_content_type(request: &PresignedRequest, content_type: &str) -> Vec<(String, String)> {
    let mut headers = untyped(request);
    headers.push(("Content-Type".to_string(), content_type.to_string()));
    headers
}

/// The signed headers without Content-Type and Content-Length.
fn untyped(request: &PresignedRequest) -> Vec<(String, String)> {
    assert!(
        request
            .headers
            .iter()
            .any(|(name, _)| name == "Content-Type")
    );
    request
        .headers
        .iter()
        .filter(|(name, _)| name != "Content-Type" && name != "Content-Length")
        .cloned()
        .collect()
}

async fn storage() -> (S3Server, S3Storage) {
    let server = S3Server::start().await;
    let storage = server.storage(&bucket()).await;
    (server, storage)
}

#[tokio::test]
async fn a_presigned_put_uploads_the_bytes_and_a_presigned_get_downloads_them() {
    let (_server, storage) = storage().await;
    storage
        .create_bucket_if_missing()
        .await
        .expect("creating an existing bucket again is fine");
    // Spaces, parentheses and non-ASCII exercise the canonical URI encoding.
    let key = "org/acme/2026/Résumé (final) v2+1.pdf";
    let body = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n".to_vec();

    let put = storage
        .presign_put(key, "application/pdf", body.len() as u64, MINUTES_5)
        .expect("presign put");
    assert_eq!(put.method, "PUT");
    let response = send(&put, body.clone()).await;
    assert!(response.status().is_success(), "{}", response.status());

    assert_eq!(
        storage.head(key).await.expect("head"),
        Some(ObjectInfo {
            size: body.len() as u64,
            content_type: Some("application/pdf".to_string()),
        })
    );
    assert_eq!(storage.read_prefix(key, 5).await.expect("prefix"), b"%PDF-");
    assert_eq!(
        storage.read_prefix(key, 64 * 1024).await.expect("prefix"),
        body
    );

    let get = storage
        .presign_get(key, MINUTES_5, None)
        .expect("presign get");
    let response = send(&get, Vec::new()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.expect("body").to_vec(), body);

    let named = storage
        .presign_get(key, MINUTES_5, Some("Résumé final.pdf"))
        .expect("presign get");
    let response = send(&named, Vec::new()).await;
    assert_eq!(response.status(), 200);
    if let Some(disposition) = response.headers().get("content-disposition") {
        assert_eq!(
            disposition,
            "attachment; filename*=UTF-8''R%C3%A9sum%C3%A9%20final.pdf"
        );
    }
    assert_eq!(response.bytes().await.expect("body").to_vec(), body);

    storage.delete(key).await.expect("delete");
    assert_eq!(storage.head(key).await.expect("head"), None);
    assert!(matches!(
        storage.read_prefix(key, 5).await,
        Err(StorageError::NotFound)
    ));
    assert_eq!(send(&get, Vec::new()).await.status(), 404);
    storage
        .delete(key)
        .await
        .expect("deleting a missing object is fine");
}

#[tokio::test]
async fn s3_refuses_an_upload_whose_length_or_type_differs_from_the_signed_one() {
    let (_server, storage) = storage().await;
    let key = "org/acme/notes.txt";
    let put = storage
        .presign_put(key, "text/plain", 10, MINUTES_5)
        .expect("presign put");

    // An honest client: Content-Length always matches the body it sends.
    let longer = send_with(
        &put,
        b"0123456789A".to_vec(),
        only_content_type(&put, "text/plain"),
    );
    assert_eq!(longer.await.status(), 403, "a body longer than signed");
    let shorter = send_with(
        &put,
        b"012345678".to_vec(),
        only_content_type(&put, "text/plain"),
    );
    assert_eq!(shorter.await.status(), 403, "a body shorter than signed");
    let html = send_with(
        &put,
        b"<script>!!".to_vec(),
        only_content_type(&put, "text/html"),
    );
    assert_eq!(html.await.status(), 403, "another content type");
    let no_type = send_with(&put, b"0123456789".to_vec(), untyped(&put));
    assert_eq!(no_type.await.status(), 403, "no content type");
    assert_eq!(storage.head(key).await.expect("head"), None);

    let exact = send_with(
        &put,
        b"0123456789".to_vec(),
        only_content_type(&put, "text/plain"),
    );
    assert!(exact.await.status().is_success());
    assert_eq!(
        storage.head(key).await.expect("head").map(|info| info.size),
        Some(10)
    );
}

#[tokio::test]
async fn s3_refuses_expired_and_tampered_presigned_urls() {
    let (_server, storage) = storage().await;
    let key = "org/acme/a.bin";
    let put = storage
        .presign_put(key, "application/octet-stream", 3, Duration::from_secs(1))
        .expect("presign put");
    let get = storage
        .presign_get(key, Duration::from_secs(1), None)
        .expect("presign get");
    let fresh = storage
        .presign_put(key, "application/octet-stream", 3, MINUTES_5)
        .expect("presign put");

    let other_key = PresignedRequest {
        url: fresh.url.replace("/a.bin?", "/b.bin?"),
        ..fresh.clone()
    };
    assert_eq!(send(&other_key, b"abc".to_vec()).await.status(), 403);
    let longer_life = PresignedRequest {
        url: fresh.url.replace("X-Amz-Expires=300", "X-Amz-Expires=600"),
        ..fresh.clone()
    };
    assert_eq!(send(&longer_life, b"abc".to_vec()).await.status(), 403);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(send(&put, b"abc".to_vec()).await.status(), 403);
    assert_eq!(storage.head(key).await.expect("head"), None);

    assert!(send(&fresh, b"abc".to_vec()).await.status().is_success());
    assert_eq!(send(&get, Vec::new()).await.status(), 403);
}

#[tokio::test]
async fn empty_objects_and_wrong_credentials_are_handled() {
    let (server, storage) = storage().await;
    let key = "org/acme/empty";
    let put = storage
        .presign_put(key, "text/plain", 0, MINUTES_5)
        .expect("presign put");
    assert!(send(&put, Vec::new()).await.status().is_success());
    assert_eq!(
        storage.head(key).await.expect("head").map(|info| info.size),
        Some(0)
    );
    assert!(
        storage
            .read_prefix(key, 8)
            .await
            .expect("prefix")
            .is_empty()
    );

    let mut config = server.config("other-bucket");
    config.secret_key = "not-the-secret".to_string();
    let intruder = S3Storage::new(config, fluxorae_tests::http_client()).expect("config");
    let error = intruder
        .head("org/acme/empty")
        .await
        .expect_err("wrong secret");
    assert!(
        matches!(error, StorageError::Status { status: 403, .. }),
        "{error}"
    );
    assert!(!error.to_string().contains("not-the-secret"));
    assert!(intruder.create_bucket_if_missing().await.is_err());
}
