//! Files through presigned URLs, as the client portal uses them: local
//! signed URLs by default, and a real S3-compatible server.

use fluxorae_tests::{Persona, TestApp};
use kernel::Role;
use serde_json::{Value, json};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n";

async fn data(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let body = app.graphql(Some(token), query, variables).await;
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

async fn error_code(app: &TestApp, token: &str, query: &str, variables: Value) -> (String, String) {
    let body = app.graphql(Some(token), query, variables).await;
    let error = &body["errors"][0];
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or("none")
            .to_string(),
        error["extensions"]["fields"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

const REQUEST: &str = "mutation($input: RequestUploadInput!) { requestUpload(input: $input) {
    file { id status filename } uploadUrl uploadHeaders { name value } expiresAt } }";
const COMPLETE: &str =
    "mutation($id: ID!) { completeUpload(fileId: $id) { id status rejectionReason size } }";
const FILE: &str =
    "query($id: ID!) { file(id: $id) { status filename downloadUrl uploadedBy { email } } }";

/// Logs in over REST as the portal does and answers the access token.
async fn portal_login(app: &TestApp, persona: &Persona) -> String {
    let response = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({ "email": persona.email, "password": persona.password }))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    body["accessToken"].as_str().expect("token").to_string()
}

async fn project_for(app: &TestApp, admin: &Persona, client: &Persona) -> String {
    data(
        app,
        &admin.token,
        "mutation($org: ID!) { createProject(input: { organizationId: $org, name: \"Portal\" }) { id } }",
        json!({ "org": client.organization_id.to_string() }),
    )
    .await["createProject"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Requests an upload for `input` (the owner, maybe `internal`) of `bytes`
/// and answers the file id and the upload as handed out (URL and headers).
async fn request(
    app: &TestApp,
    token: &str,
    mut input: Value,
    filename: &str,
    content_type: &str,
    bytes: &[u8],
) -> (String, Value) {
    input["filename"] = json!(filename);
    input["contentType"] = json!(content_type);
    input["size"] = json!(bytes.len());
    let ticket =
        data(app, token, REQUEST, json!({ "input": input })).await["requestUpload"].clone();
    assert_eq!(ticket["file"]["status"], "PENDING");
    (
        ticket["file"]["id"].as_str().expect("id").to_string(),
        ticket,
    )
}

/// PUTs `bytes` to an upload URL exactly as told; answers the status.
async fn put(app: &TestApp, ticket: &Value, bytes: &[u8]) -> reqwest::StatusCode {
    let mut put = app
        .http
        .put(ticket["uploadUrl"].as_str().expect("url"))
        .body(bytes.to_vec());
    for header in ticket["uploadHeaders"].as_array().expect("headers") {
        let name = header["name"].as_str().expect("name");
        // reqwest sets Content-Length from the body itself.
        if !name.eq_ignore_ascii_case("content-length") {
            put = put.header(name, header["value"].as_str().expect("value"));
        }
    }
    put.send().await.expect("put").status()
}

/// Requests an upload to `input`'s owner and PUTs `bytes`; answers the file id.
async fn upload_to(
    app: &TestApp,
    token: &str,
    input: Value,
    filename: &str,
    content_type: &str,
    bytes: &[u8],
) -> String {
    let (file, ticket) = request(app, token, input, filename, content_type, bytes).await;
    let status = put(app, &ticket, bytes).await;
    assert!(status.is_success(), "PUT answered {status}");
    file
}

/// Requests an upload to a project and PUTs `bytes` exactly as told; answers the file id.
async fn upload(
    app: &TestApp,
    token: &str,
    project: &str,
    filename: &str,
    content_type: &str,
    bytes: &[u8],
) -> String {
    upload_to(
        app,
        token,
        json!({ "projectId": project }),
        filename,
        content_type,
        bytes,
    )
    .await
}

async fn portal_flow(app: &TestApp) {
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let other = app
        .persona_in(Role::Client, Some("Globex Retail LLP"))
        .await;
    let project = project_for(app, &admin, &client).await;
    project_for(app, &admin, &other).await;

    let token = portal_login(app, &client).await;
    let projects = data(
        app,
        &token,
        "{ projects { totalCount edges { node { id name } } } }",
        json!({}),
    )
    .await;
    assert_eq!(projects["projects"]["totalCount"], 1);
    assert_eq!(
        projects["projects"]["edges"][0]["node"]["id"],
        project.as_str()
    );
    data(
        app,
        &token,
        "query($id: ID!) { project(id: $id) { name board { columns { status } } } }",
        json!({ "id": project }),
    )
    .await;

    let file = upload(
        app,
        &token,
        &project,
        "../Signed proposal.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    let completed = data(app, &token, COMPLETE, json!({ "id": file })).await;
    assert_eq!(completed["completeUpload"]["status"], "AVAILABLE");
    assert_eq!(completed["completeUpload"]["size"], PDF.len());
    let shown = data(app, &token, FILE, json!({ "id": file })).await;
    assert_eq!(shown["file"]["filename"], "Signed proposal.pdf");
    assert_eq!(shown["file"]["uploadedBy"]["email"], client.email.as_str());
    let url = shown["file"]["downloadUrl"].as_str().expect("download url");
    let download = app.http.get(url).send().await.expect("download");
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.expect("bytes").as_ref(), PDF);

    // Someone who may not see the project gets nothing, not even a hint.
    let (code, _) = error_code(app, &other.token, FILE, json!({ "id": file })).await;
    assert_eq!(code, "NOT_FOUND");
    let listed = data(app, &token, "query($id: ID!) { project(id: $id) { files { totalCount edges { node { id status } } } } }", json!({ "id": project })).await;
    assert_eq!(listed["project"]["files"]["totalCount"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_uploads_and_downloads_a_file_through_local_signed_urls() {
    let app = TestApp::spawn().await;
    portal_flow(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_uploads_and_downloads_a_file_through_s3() {
    let s3 = fluxorae_tests::s3::S3Server::start().await;
    s3.storage("portal-files").await;
    let (endpoint, access_key, secret_key) = (
        s3.endpoint(),
        s3.access_key().to_string(),
        s3.secret_key().to_string(),
    );
    let app = TestApp::spawn_with(move |config| {
        config.domains.files.storage = files::StorageSettings::S3 {
            endpoint,
            region: "us-east-1".into(),
            bucket: "portal-files".into(),
            access_key,
            secret_key,
            session_token: None,
            path_style: true,
        };
    })
    .await;
    portal_flow(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_are_checked_for_size_type_and_content() {
    let app = TestApp::spawn_with(|config| config.domains.files.uploads.max_bytes = 1024).await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let partner = app.persona(Role::Partner).await;
    let project = project_for(&app, &admin, &client).await;
    let request = |size: usize, content_type: &str| json!({ "input": { "projectId": project, "filename": "a.pdf", "contentType": content_type, "size": size } });
    assert_eq!(
        error_code(
            &app,
            &client.token,
            REQUEST,
            request(2048, "application/pdf")
        )
        .await,
        ("BAD_USER_INPUT".into(), "input.size".into())
    );
    assert_eq!(
        error_code(&app, &client.token, REQUEST, request(0, "application/pdf")).await,
        ("BAD_USER_INPUT".into(), "input.size".into())
    );
    assert_eq!(
        error_code(&app, &client.token, REQUEST, request(10, "text/html")).await,
        ("BAD_USER_INPUT".into(), "input.contentType".into())
    );
    assert_eq!(
        error_code(
            &app,
            &partner.token,
            REQUEST,
            request(10, "application/pdf")
        )
        .await
        .0,
        "FORBIDDEN"
    );

    // An executable declared as a PDF is rejected, with the reason, and never served.
    let disguised = upload(
        &app,
        &client.token,
        &project,
        "invoice.pdf",
        "application/pdf",
        b"MZ\x90\x00\x03\x00\x00\x00",
    )
    .await;
    let rejected = data(&app, &client.token, COMPLETE, json!({ "id": disguised })).await;
    assert_eq!(rejected["completeUpload"]["status"], "REJECTED");
    assert!(
        rejected["completeUpload"]["rejectionReason"]
            .as_str()
            .unwrap_or_default()
            .contains("application/pdf")
    );
    let shown = data(&app, &client.token, FILE, json!({ "id": disguised })).await;
    assert!(shown["file"]["downloadUrl"].is_null());

    // Completing before uploading says so.
    let pending = data(
        &app,
        &client.token,
        REQUEST,
        request(PDF.len(), "application/pdf"),
    )
    .await["requestUpload"]["file"]["id"]
        .clone();
    assert_eq!(
        error_code(&app, &client.token, COMPLETE, json!({ "id": pending })).await,
        ("BAD_USER_INPUT".into(), "fileId".into())
    );

    // The signed URL accepts only the declared length and type.
    let ticket = data(
        &app,
        &client.token,
        REQUEST,
        request(PDF.len(), "application/pdf"),
    )
    .await["requestUpload"]
        .clone();
    let url = ticket["uploadUrl"].as_str().expect("url");
    let wrong_type = app
        .http
        .put(url)
        .header("content-type", "image/png")
        .body(PDF.to_vec())
        .send()
        .await
        .expect("put");
    assert_eq!(wrong_type.status(), 403);
    let too_long = app
        .http
        .put(url)
        .header("content-type", "application/pdf")
        .body([PDF, b"extra"].concat())
        .send()
        .await
        .expect("put");
    assert_eq!(too_long.status(), 403);
    let tampered = url.replace("len=", "len=9");
    let forged = app
        .http
        .put(tampered)
        .header("content-type", "application/pdf")
        .body(PDF.to_vec())
        .send()
        .await
        .expect("put");
    assert_eq!(forged.status(), 403);
}

/// A stand-in for clamd that speaks INSTREAM and flags the EICAR test string.
async fn fake_clamd() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut command = [0u8; 10];
                if socket.read_exact(&mut command).await.is_err() || &command != b"zINSTREAM\0" {
                    return;
                }
                let mut data = Vec::new();
                loop {
                    let mut length = [0u8; 4];
                    if socket.read_exact(&mut length).await.is_err() {
                        return;
                    }
                    let length = u32::from_be_bytes(length) as usize;
                    if length == 0 {
                        break;
                    }
                    let mut chunk = vec![0u8; length];
                    if socket.read_exact(&mut chunk).await.is_err() {
                        return;
                    }
                    data.extend_from_slice(&chunk);
                }
                let infected = data.windows(8).any(|w| w == b"EICAR-ST");
                let reply: &[u8] = if infected {
                    b"stream: Eicar-Test-Signature FOUND\0"
                } else {
                    b"stream: OK\0"
                };
                let _ = socket.write_all(reply).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn with_antivirus_on_files_stay_quarantined_until_clamd_says_clean() {
    let clamd = fake_clamd().await;
    let app = TestApp::spawn_with(move |config| {
        config.domains.files.clamav_addr = Some(clamd);
        config.domains.files.uploads.scan = true;
        config.outbox_enabled = false;
    })
    .await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let project = project_for(&app, &admin, &client).await;
    let clean = upload(
        &app,
        &client.token,
        &project,
        "clean.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    let infected_bytes = [
        PDF,
        b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    ]
    .concat();
    let infected = upload(
        &app,
        &client.token,
        &project,
        "bad.pdf",
        "application/pdf",
        &infected_bytes,
    )
    .await;
    for file in [&clean, &infected] {
        let completed = data(&app, &client.token, COMPLETE, json!({ "id": file })).await;
        assert_eq!(completed["completeUpload"]["status"], "QUARANTINED");
        assert!(
            data(&app, &client.token, FILE, json!({ "id": file })).await["file"]["downloadUrl"]
                .is_null()
        );
    }
    app.drain_outbox().await;
    let clean = data(&app, &client.token, FILE, json!({ "id": clean })).await;
    assert_eq!(clean["file"]["status"], "AVAILABLE");
    assert!(clean["file"]["downloadUrl"].is_string());
    let infected = data(
        &app,
        &client.token,
        "query($id: ID!) { file(id: $id) { status downloadUrl } }",
        json!({ "id": infected }),
    )
    .await;
    assert_eq!(infected["file"]["status"], "REJECTED");
    assert!(infected["file"]["downloadUrl"].is_null());
}

/// The second PUT of a clean upload after its completion is never what
/// downloads serve: completion stored the checked bytes under a key no URL
/// can write, and removed the upload's own object (so the store may take the
/// PUT there, unserved).
async fn a_second_put_cannot_change_what_is_served(app: &TestApp) {
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let project = project_for(app, &admin, &client).await;
    let (file, ticket) = request(
        app,
        &client.token,
        json!({ "projectId": project }),
        "clean.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    assert!(put(app, &ticket, PDF).await.is_success());
    let completed = data(app, &client.token, COMPLETE, json!({ "id": file })).await;
    assert_eq!(completed["completeUpload"]["status"], "AVAILABLE");

    // Malware of the same size and declared type, to the still-valid URL.
    let mut malware = b"MZ".to_vec();
    malware.resize(PDF.len(), b'!');
    put(app, &ticket, &malware).await;
    let shown = data(app, &client.token, FILE, json!({ "id": file })).await;
    let url = shown["file"]["downloadUrl"].as_str().expect("download url");
    let served = app.http.get(url).send().await.expect("download");
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.expect("bytes").as_ref(), PDF);
    // Completing again changes nothing either.
    let again = data(app, &client.token, COMPLETE, json!({ "id": file })).await;
    assert_eq!(again["completeUpload"]["status"], "AVAILABLE");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_put_after_completion_does_not_change_the_served_bytes_locally() {
    let app = TestApp::spawn().await;
    a_second_put_cannot_change_what_is_served(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_put_after_completion_does_not_change_the_served_bytes_on_s3() {
    let s3 = fluxorae_tests::s3::S3Server::start().await;
    s3.storage("write-once").await;
    let (endpoint, access_key, secret_key) = (
        s3.endpoint(),
        s3.access_key().to_string(),
        s3.secret_key().to_string(),
    );
    let app = TestApp::spawn_with(move |config| {
        config.domains.files.storage = files::StorageSettings::S3 {
            endpoint,
            region: "us-east-1".into(),
            bucket: "write-once".into(),
            access_key,
            secret_key,
            session_token: None,
            path_style: true,
        };
    })
    .await;
    a_second_put_cannot_change_what_is_served(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_store_refuses_a_second_put_before_completion() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let project = project_for(&app, &admin, &client).await;
    let (file, ticket) = request(
        &app,
        &client.token,
        json!({ "projectId": project }),
        "a.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    assert!(put(&app, &ticket, PDF).await.is_success());
    let mut other = b"%PDF-".to_vec();
    other.resize(PDF.len(), b'x');
    assert_eq!(put(&app, &ticket, &other).await, 412);
    data(&app, &client.token, COMPLETE, json!({ "id": file })).await;
    let shown = data(&app, &client.token, FILE, json!({ "id": file })).await;
    let url = shown["file"]["downloadUrl"].as_str().expect("download url");
    let served = app.http.get(url).send().await.expect("download");
    assert_eq!(served.bytes().await.expect("bytes").as_ref(), PDF);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_is_named_with_the_extension_of_its_checked_type() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let project = project_for(&app, &admin, &client).await;
    let file = upload(
        &app,
        &client.token,
        &project,
        "report.exe",
        "application/pdf",
        PDF,
    )
    .await;
    let completed = data(&app, &client.token, COMPLETE, json!({ "id": file })).await;
    assert_eq!(completed["completeUpload"]["status"], "AVAILABLE");
    let shown = data(&app, &client.token, FILE, json!({ "id": file })).await;
    assert_eq!(shown["file"]["filename"], "report.exe");
    let url = shown["file"]["downloadUrl"].as_str().expect("download url");
    let served = app.http.get(url).send().await.expect("download");
    assert_eq!(
        served.headers()["content-disposition"],
        "attachment; filename*=UTF-8''report.pdf"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_cannot_list_or_download_a_staff_only_attachment_of_its_own_ticket_or_project() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let employee = app.persona(Role::Employee).await;
    let client = app.persona(Role::Client).await;
    let project = project_for(&app, &admin, &client).await;
    let ticket = data(
        &app,
        &client.token,
        "mutation { createTicket(input: { subject: \"Invoice\", body: \"Please check.\" }) { id } }",
        json!({}),
    )
    .await["createTicket"]["id"]
        .as_str()
        .expect("ticket")
        .to_string();

    // A client may not mark its own uploads staff-only.
    let body = app
        .graphql(
            Some(&client.token),
            REQUEST,
            json!({ "input": { "projectId": project, "internal": true, "filename": "a.pdf", "contentType": "application/pdf", "size": PDF.len() } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );

    let mut staff_only = Vec::new();
    for owner in [
        json!({ "projectId": project }),
        json!({ "ticketId": ticket }),
    ] {
        let mut input = owner.clone();
        input["internal"] = json!(true);
        let internal = upload_to(
            &app,
            &employee.token,
            input,
            "notes.pdf",
            "application/pdf",
            PDF,
        )
        .await;
        data(&app, &employee.token, COMPLETE, json!({ "id": internal })).await;
        let shared = upload_to(
            &app,
            &employee.token,
            owner,
            "shared.pdf",
            "application/pdf",
            PDF,
        )
        .await;
        data(&app, &employee.token, COMPLETE, json!({ "id": shared })).await;
        staff_only.push(internal);
    }

    const LISTS: &str = "query($project: ID!, $ticket: ID!) {
        project(id: $project) { files { totalCount edges { node { id filename internal } } } }
        ticket(id: $ticket) { attachments { id filename internal } } }";
    let ids = json!({ "project": project, "ticket": ticket });
    let seen = data(&app, &client.token, LISTS, ids.clone()).await;
    assert_eq!(seen["project"]["files"]["totalCount"], 1, "{seen}");
    assert_eq!(
        seen["project"]["files"]["edges"][0]["node"]["filename"],
        "shared.pdf"
    );
    assert_eq!(
        seen["ticket"]["attachments"]
            .as_array()
            .expect("list")
            .len(),
        1,
        "{seen}"
    );
    assert_eq!(seen["ticket"]["attachments"][0]["filename"], "shared.pdf");
    for file in &staff_only {
        let (code, _) = error_code(&app, &client.token, FILE, json!({ "id": file })).await;
        assert_eq!(code, "NOT_FOUND");
    }

    let staff = data(&app, &employee.token, LISTS, ids).await;
    assert_eq!(staff["project"]["files"]["totalCount"], 2);
    assert_eq!(
        staff["ticket"]["attachments"]
            .as_array()
            .expect("list")
            .len(),
        2
    );
    for file in &staff_only {
        let shown = data(&app, &employee.token, FILE, json!({ "id": file })).await;
        assert!(shown["file"]["downloadUrl"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_names_exactly_one_owner_and_a_task_file_is_listed_with_its_project() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let project = project_for(&app, &admin, &client).await;
    let task = data(
        &app,
        &admin.token,
        "mutation($project: ID!) { createTask(input: { projectId: $project, title: \"Logo\" }) { id } }",
        json!({ "project": project }),
    )
    .await["createTask"]["id"]
        .as_str()
        .expect("task")
        .to_string();
    let input = |owner: Value| {
        let mut input = owner;
        input["filename"] = json!("a.pdf");
        input["contentType"] = json!("application/pdf");
        input["size"] = json!(PDF.len());
        json!({ "input": input })
    };
    assert_eq!(
        error_code(&app, &client.token, REQUEST, input(json!({}))).await,
        ("BAD_USER_INPUT".into(), "input.projectId".into())
    );
    assert_eq!(
        error_code(
            &app,
            &client.token,
            REQUEST,
            input(json!({ "projectId": project, "ticketId": project }))
        )
        .await,
        ("BAD_USER_INPUT".into(), "input.ticketId".into())
    );
    let other = project_for(&app, &admin, &client).await;
    assert_eq!(
        error_code(
            &app,
            &client.token,
            REQUEST,
            input(json!({ "projectId": other, "taskId": task }))
        )
        .await,
        ("BAD_USER_INPUT".into(), "input.taskId".into())
    );

    // The task alone, or with its project as before: either way the task owns it.
    for owner in [
        json!({ "taskId": task }),
        json!({ "projectId": project, "taskId": task }),
    ] {
        let file = upload_to(
            &app,
            &client.token,
            owner,
            "brief.pdf",
            "application/pdf",
            PDF,
        )
        .await;
        let completed = data(&app, &client.token, COMPLETE, json!({ "id": file })).await;
        assert_eq!(completed["completeUpload"]["status"], "AVAILABLE");
        let shown = data(
            &app,
            &client.token,
            "query($id: ID!) { file(id: $id) { ownerKind taskId projectId ticketId } }",
            json!({ "id": file }),
        )
        .await;
        assert_eq!(
            shown["file"],
            json!({ "ownerKind": "TASK", "taskId": task, "projectId": project, "ticketId": null })
        );
    }
    let listed = data(
        &app,
        &client.token,
        "query($id: ID!) { project(id: $id) { files { totalCount } } }",
        json!({ "id": project }),
    )
    .await;
    assert_eq!(listed["project"]["files"]["totalCount"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ticket_and_its_attachments_stay_in_the_organization_of_its_project() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let employee = app.persona(Role::Employee).await;
    let acme = app.persona(Role::Client).await;
    let globex = app
        .persona_in(Role::Client, Some("Globex Retail LLP"))
        .await;
    let acme_project = project_for(&app, &admin, &acme).await;
    let globex_project = project_for(&app, &admin, &globex).await;
    const OPEN: &str = "mutation($input: CreateTicketInput!) { createTicket(input: $input) { id projectId organization { id } } }";
    let open = |project: &str, organization: Option<uuid::Uuid>| {
        let mut input =
            json!({ "subject": "Broken form", "body": "It fails.", "projectId": project });
        if let Some(organization) = organization {
            input["organizationId"] = json!(organization.to_string());
        }
        json!({ "input": input })
    };

    // A ticket's project is one of the ticket's organization, whoever opens it.
    assert_eq!(
        error_code(
            &app,
            &employee.token,
            OPEN,
            open(&acme_project, Some(globex.organization_id))
        )
        .await,
        ("BAD_USER_INPUT".into(), "input.projectId".into())
    );
    assert_eq!(
        error_code(&app, &acme.token, OPEN, open(&globex_project, None)).await,
        ("BAD_USER_INPUT".into(), "input.projectId".into())
    );
    let staff_opened = data(&app, &employee.token, OPEN, open(&acme_project, None)).await;
    assert_eq!(
        staff_opened["createTicket"]["organization"]["id"],
        acme.organization_id.to_string(),
        "a project names its organization"
    );
    let ticket =
        data(&app, &acme.token, OPEN, open(&acme_project, None)).await["createTicket"]["id"]
            .as_str()
            .expect("ticket")
            .to_string();

    // One upload cannot be Acme's ticket's and Globex's project's at once.
    let mut both = json!({ "ticketId": ticket, "projectId": globex_project });
    both["filename"] = json!("a.pdf");
    both["contentType"] = json!("application/pdf");
    both["size"] = json!(PDF.len());
    assert_eq!(
        error_code(&app, &employee.token, REQUEST, json!({ "input": both })).await,
        ("BAD_USER_INPUT".into(), "input.ticketId".into())
    );

    // The ticket's attachment is Acme's: Globex neither adds to it nor reads it.
    let file = upload_to(
        &app,
        &employee.token,
        json!({ "ticketId": ticket }),
        "quote.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    data(&app, &employee.token, COMPLETE, json!({ "id": file })).await;
    let mut theirs = json!({ "ticketId": ticket });
    theirs["filename"] = json!("b.pdf");
    theirs["contentType"] = json!("application/pdf");
    theirs["size"] = json!(PDF.len());
    assert_eq!(
        error_code(&app, &globex.token, REQUEST, json!({ "input": theirs }))
            .await
            .0,
        "NOT_FOUND"
    );
    assert_eq!(
        error_code(&app, &globex.token, FILE, json!({ "id": file }))
            .await
            .0,
        "NOT_FOUND"
    );
    let shown = data(&app, &acme.token, FILE, json!({ "id": file })).await;
    assert!(shown["file"]["downloadUrl"].is_string(), "{shown}");
    let globex_files = data(
        &app,
        &globex.token,
        "query($id: ID!) { project(id: $id) { files { totalCount } } }",
        json!({ "id": globex_project }),
    )
    .await;
    assert_eq!(globex_files["project"]["files"]["totalCount"], 0);
}
