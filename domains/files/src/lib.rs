//! Files domain: files of any owner (projects, tasks, tickets today), object
//! storage (S3 through rusty-s3, or a local folder), presigned uploads checked
//! on completion, staff-only files, and ClamAV scans of quarantined uploads.
//!
//! Owning domains answer who may see and attach files through [`FileOwner`];
//! this crate depends on none of them.

pub mod config;
pub mod graphql;
pub mod model;
pub mod owner;
pub mod policy;
pub mod repo;
pub mod routes;
pub mod scan;
pub mod service;
pub mod storage;

use std::sync::Arc;

use async_graphql::SchemaBuilder;
use kernel::domain::BuildError;
use kernel::outbox::JobHandler;
use kernel::{ConfigError, Db, Deps, Domain, Env, Permission};

pub use config::{FilesConfig, StorageSettings};
pub use graphql::mutation::FilesMutation;
pub use graphql::query::FilesQuery;
pub use model::{FileOwnerKind, OwnerRef};
pub use owner::{FileOwner, FileOwners, OwnerAccess};
pub use service::FilesService;

use storage::{LocalStorage, ObjectStorage, S3Config, S3Storage};

/// The files domain.
pub struct Files {
    service: Arc<FilesService>,
    local: Option<Arc<LocalStorage>>,
    clamav_addr: Option<String>,
    db: Db,
}

const PERMISSIONS: &[Permission] = &[Permission {
    name: service::UPLOAD_PERMISSION,
    description: "Upload files to owners one may attach to (projects, tasks, tickets)",
}];

impl Files {
    /// The files use cases.
    pub fn service(&self) -> &Arc<FilesService> {
        &self.service
    }
}

/// The configured object store, and the local one again when it is that one
/// (its routes are served).
type Stores = (Arc<dyn ObjectStorage>, Option<Arc<LocalStorage>>);

/// The configured object store.
fn object_storage(config: &FilesConfig) -> Result<Stores, BuildError> {
    Ok(match &config.storage {
        StorageSettings::Local { dir, base_url } => {
            let local = Arc::new(LocalStorage::new(
                dir.clone(),
                base_url.clone(),
                config.storage_secret.clone(),
            )?);
            (local.clone(), Some(local))
        }
        StorageSettings::S3 {
            endpoint,
            region,
            bucket,
            access_key,
            secret_key,
            session_token,
            path_style,
        } => {
            let http = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?;
            let s3 = S3Storage::new(
                S3Config {
                    endpoint: endpoint.clone(),
                    region: region.clone(),
                    bucket: bucket.clone(),
                    access_key: access_key.clone(),
                    secret_key: secret_key.clone(),
                    session_token: session_token.clone(),
                    path_style: *path_style,
                },
                http,
            )?;
            (Arc::new(s3), None)
        }
    })
}

impl Domain for Files {
    const NAME: &'static str = "files";

    type Config = FilesConfig;

    fn configure(env: &Env) -> Result<FilesConfig, ConfigError> {
        FilesConfig::from_env(env)
    }

    fn build(deps: &Deps, config: &FilesConfig) -> Result<Self, BuildError> {
        let (storage, local) = object_storage(config)?;
        Ok(Self {
            service: Arc::new(FilesService::new(
                deps.db.clone(),
                storage,
                config.uploads.clone(),
            )),
            local,
            clamav_addr: config.clamav_addr.clone(),
            db: deps.db.clone(),
        })
    }

    fn permissions() -> &'static [Permission] {
        PERMISSIONS
    }

    fn install<Q, M, S>(&self, builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S> {
        builder.data(self.service.clone())
    }

    fn jobs(&self) -> Vec<Arc<dyn JobHandler>> {
        match &self.clamav_addr {
            Some(clamd_addr) => vec![Arc::new(scan::ScanFileHandler {
                db: self.db.clone(),
                storage: self.service.storage().clone(),
                clamd_addr: clamd_addr.clone(),
            })],
            None => Vec::new(),
        }
    }

    fn routes(&self) -> axum::Router {
        match &self.local {
            // Uploads are capped by their signed length, not by the API body limit.
            Some(local) => routes::routes(local.clone()),
            None => axum::Router::new(),
        }
    }
}
