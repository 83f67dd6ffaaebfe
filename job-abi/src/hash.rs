//! The canonical result hash and content hashes. Defined here once; never re-implement them.

use sha2::{Digest, Sha256};

/// Domain separator of [`result_hash`]; the `v1` is the ABI version.
pub const RESULT_HASH_DOMAIN: &[u8] = b"compute-market/result/v1";
/// Domain separator of [`shader_id`].
pub const SHADER_ID_DOMAIN: &[u8] = b"compute-market/shader/v1";

/// The canonical hash of a job's output:
/// `SHA-256("compute-market/result/v1" || u64_le(output.len()) || output)`.
///
/// The length prefix makes outputs that differ only by trailing zeros hash differently, and the
/// domain keeps this hash from colliding with any other SHA-256 use in the protocol.
pub fn result_hash(output: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(RESULT_HASH_DOMAIN);
    hasher.update((output.len() as u64).to_le_bytes());
    hasher.update(output);
    hasher.finalize().into()
}

/// Plain SHA-256 of a blob (content addressing of shaders, inputs and outputs in storage).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Identity of a compiled shader: `SHA-256("compute-market/shader/v1" || u64_le(len(wgsl)) ||
/// wgsl || u64_le(len(entry_point)) || entry_point)`. The daemon keys its pipeline cache on it.
pub fn shader_id(wgsl: &[u8], entry_point: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(SHADER_ID_DOMAIN);
    hasher.update((wgsl.len() as u64).to_le_bytes());
    hasher.update(wgsl);
    hasher.update((entry_point.len() as u64).to_le_bytes());
    hasher.update(entry_point.as_bytes());
    hasher.finalize().into()
}

/// Domain separator of [`module_id`].
pub const MODULE_ID_DOMAIN: &[u8] = b"compute-market/module/v2";

/// Identity of a module validated for a list of entry points (a job's passes):
/// `SHA-256("compute-market/module/v2" || u64_le(len(wgsl)) || wgsl || u64_le(count) ||
/// (u64_le(len(name)) || name)…)`. Every name is length-prefixed, so no list of names collides
/// with another (`["a", "b"]` is not `["a,b"]`): a daemon keys its validation verdicts on it.
pub fn module_id(wgsl: &[u8], entry_points: &[impl AsRef<str>]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(MODULE_ID_DOMAIN);
    hasher.update((wgsl.len() as u64).to_le_bytes());
    hasher.update(wgsl);
    hasher.update((entry_points.len() as u64).to_le_bytes());
    for name in entry_points {
        let name = name.as_ref().as_bytes();
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn module_ids_tell_lists_of_names_apart() {
        let w = b"wgsl";
        assert_ne!(module_id(w, &["a", "b"]), module_id(w, &["a,b"]));
        assert_ne!(module_id(w, &["ab"]), module_id(w, &["a", "b"]));
        assert_ne!(module_id(w, &["a"]), module_id(b"wgslx", &["a"]));
        assert_eq!(
            module_id(w, &["a", "b"]),
            module_id(w, &["a".to_string(), "b".into()])
        );
    }

    use super::*;

    // Test vectors computed independently with Python's hashlib:
    //   hashlib.sha256(b"compute-market/result/v1" + struct.pack("<Q", len(x)) + x).hexdigest()
    #[test]
    fn result_hash_vectors() {
        assert_eq!(
            hex::encode(result_hash(b"")),
            "c40ec296025719773ad7eb56a95fbcea84c7a23135e209a989f760bb8324ad8a"
        );
        assert_eq!(
            hex::encode(result_hash(&[1, 2, 3, 4])),
            "d725a716c302c98dc1f738ef5ffd206e3e66d790e140198931cedb900ee25b1c"
        );
        assert_eq!(
            hex::encode(result_hash(&[0u8; 8])),
            "7ddfcc0a974407e7cb47ce0dda0bac26d627ae37b405162a61883e3ad9d9875b"
        );
    }

    #[test]
    fn length_is_part_of_the_hash() {
        assert_ne!(result_hash(&[0; 4]), result_hash(&[0; 8]));
        assert_ne!(result_hash(b""), sha256(b""));
    }

    #[test]
    fn sha256_vectors() {
        assert_eq!(
            hex::encode(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn shader_id_vector_and_separation() {
        assert_eq!(
            hex::encode(shader_id(b"fn main() {}", "main")),
            "a6a743a34292e53372013b0a6d0492179c8d6b840162c03307ed88bd0b7bf8fc"
        );
        // Moving bytes between source and entry point changes the id.
        assert_ne!(shader_id(b"ab", "c"), shader_id(b"a", "bc"));
    }
}
