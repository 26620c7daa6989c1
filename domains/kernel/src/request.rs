//! Facts about the request a use case runs for, recorded in the audit log.

/// Identifies the request in logs, audit entries and error messages.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The `x-request-id` of the HTTP request or websocket upgrade.
    pub request_id: String,
    /// Client address as seen by the server.
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}
