//! `s3://` blobs (and any `object_store` backend): the S3 client, signed or not, capped
//! downloads, and deletes.

use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ClientConfigKey, ObjectStore};

use super::{error_chain, prealloc, StoreError, Timeouts};

/// S3 for `bucket`, configured from the `AWS_*` environment (region, endpoint, credentials);
/// `timeouts` apply unless the environment sets its own (`AWS_TIMEOUT`, `AWS_CONNECT_TIMEOUT`).
/// Without `sign`, requests are sent unsigned and no credential is ever looked up (not even from
/// the instance metadata service).
pub(super) fn s3_client(
    uri: &str,
    bucket: &str,
    timeouts: Timeouts,
    sign: bool,
) -> Result<AmazonS3, StoreError> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if !sign {
        builder = builder.with_skip_signature(true);
    }
    let settings = [
        (ClientConfigKey::Timeout, timeouts.total),
        (ClientConfigKey::ConnectTimeout, timeouts.connect),
    ];
    for (key, value) in settings {
        let key = AmazonS3ConfigKey::Client(key);
        if builder.get_config_value(&key).is_none() {
            builder = builder.with_config(key, format!("{}ms", value.as_millis()));
        }
    }
    builder.build().map_err(|e| StoreError::ObjectStore {
        uri: uri.to_string(),
        message: error_chain(&e),
    })
}

fn object_err(uri: &str, e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound {
            uri: uri.to_string(),
        },
        e => StoreError::ObjectStore {
            uri: uri.to_string(),
            message: error_chain(&e),
        },
    }
}

/// Deletes the object `key` (of `uri`); one already gone is not an error.
pub(super) async fn delete_object(
    store: &dyn ObjectStore,
    uri: &str,
    key: &ObjectPath,
) -> Result<(), StoreError> {
    match store.delete(key).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(object_err(uri, e)),
    }
}

pub(super) async fn get_object(
    store: &dyn ObjectStore,
    uri: &str,
    key: &ObjectPath,
    max_len: u64,
) -> Result<Vec<u8>, StoreError> {
    let too_large = || StoreError::TooLarge {
        uri: uri.to_string(),
        limit: max_len,
    };
    let meta = store.head(key).await.map_err(|e| object_err(uri, e))?;
    if meta.size > max_len {
        return Err(too_large());
    }
    let result = store.get(key).await.map_err(|e| object_err(uri, e))?;
    // The object may have been replaced between HEAD and GET: check again, and cap the stream.
    if result.meta.size > max_len {
        return Err(too_large());
    }
    let mut bytes = prealloc(result.meta.size);
    let mut stream = result.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| object_err(uri, e))?;
        if (bytes.len() as u64).saturating_add(chunk.len() as u64) > max_len {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
