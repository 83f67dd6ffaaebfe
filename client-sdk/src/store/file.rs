//! `file://` blobs: atomic writes, reads confined to the policy's directories and to regular
//! files, and deletes.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncReadExt;

use super::uri::{file_uri_path, invalid};
use super::{prealloc, FileRoots, StoreError};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

pub(super) async fn put_file(
    uri: &str,
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        uri: uri.to_string(),
        source,
    };
    // Write a temporary file, then rename: a reader never sees a partial blob.
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    if let Err(e) = tokio::fs::write(&tmp, bytes).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(io(e));
    }
    if let Err(e) = tokio::fs::rename(&tmp, dir.join(name)).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(io(e));
    }
    Ok(())
}

/// Deletes the blob file `path` (of `uri`); one already gone is not an error.
pub(super) async fn delete_file(uri: &str, path: &Path) -> Result<(), StoreError> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Io {
            uri: uri.to_string(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn io_error(uri: &str, source: std::io::Error) -> StoreError {
    if source.kind() == std::io::ErrorKind::NotFound {
        StoreError::NotFound {
            uri: uri.to_string(),
        }
    } else {
        StoreError::Io {
            uri: uri.to_string(),
            source,
        }
    }
}

/// Reads the regular file `uri` names, refusing more than `max_len` bytes. The file must lie
/// under `roots`; anything but a regular file (a FIFO, a device, a directory) is refused before
/// it is opened, since opening a FIFO waits for a writer and a device may never end.
pub(super) async fn get_file(
    uri: &str,
    max_len: u64,
    roots: &FileRoots,
) -> Result<Vec<u8>, StoreError> {
    let path = file_uri_path(uri)?;
    let path = match roots {
        FileRoots::Any => path,
        FileRoots::Under(roots) => confine(uri, &path, roots).await?,
    };
    let meta = tokio::fs::metadata(&path)
        .await
        .map_err(|e| io_error(uri, e))?;
    regular(uri, &meta)?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| io_error(uri, e))?;
    // What was opened is what is read: check it again (it may have been replaced).
    let meta = file.metadata().await.map_err(|e| io_error(uri, e))?;
    regular(uri, &meta)?;
    let too_large = || StoreError::TooLarge {
        uri: uri.to_string(),
        limit: max_len,
    };
    if meta.len() > max_len {
        return Err(too_large());
    }
    // The file may grow after the check: read at most one byte past the cap.
    let mut bytes = prealloc(meta.len());
    file.take(max_len.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| io_error(uri, e))?;
    if bytes.len() as u64 > max_len {
        return Err(too_large());
    }
    Ok(bytes)
}

fn regular(uri: &str, meta: &Metadata) -> Result<(), StoreError> {
    if meta.is_file() {
        return Ok(());
    }
    let kind = file_kind(meta);
    Err(invalid(uri, &format!("not a regular file ({kind})")))
}

fn file_kind(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    "not a file"
}

/// The real path of `path` (every symbolic link and `..` resolved) if it lies in one of `roots`
/// (themselves resolved); [`StoreError::Refused`] otherwise. Paths outside every root are refused
/// before the file system is asked anything about them.
async fn confine(uri: &str, path: &Path, roots: &[PathBuf]) -> Result<PathBuf, StoreError> {
    let refused = |reason: String| StoreError::Refused {
        uri: uri.to_string(),
        reason,
    };
    if roots.is_empty() {
        return Err(refused("no file:// directories are allowed".into()));
    }
    let mut real_roots = Vec::with_capacity(roots.len());
    for root in roots {
        // A root that does not exist (yet) holds no files.
        if let Ok(real) = tokio::fs::canonicalize(root).await {
            real_roots.push(real);
        }
    }
    let outside = || {
        let allowed: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        format!("outside the allowed directories ({})", allowed.join(", "))
    };
    let lexically_inside = roots
        .iter()
        .chain(&real_roots)
        .any(|root| path.starts_with(root));
    if !lexically_inside {
        return Err(refused(format!("{} is {}", path.display(), outside())));
    }
    let real = tokio::fs::canonicalize(path)
        .await
        .map_err(|e| io_error(uri, e))?;
    if !real_roots.iter().any(|root| real.starts_with(root)) {
        return Err(refused(format!(
            "{} resolves to {}, {}",
            path.display(),
            real.display(),
            outside()
        )));
    }
    Ok(real)
}
