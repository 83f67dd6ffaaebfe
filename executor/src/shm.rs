//! Shared memory for jobs' bulk data (Linux): a job's input and output bytes travel through one
//! memory region per worker instead of the worker's stdin and stdout, so a large job costs a
//! `memcpy` per direction rather than pipe traffic (see [`crate::protocol`]).
//!
//! The parent creates the region when it starts a worker: a `memfd` sized for the pool's
//! largest input plus largest output ([`Layout`]), **sealed** against shrinking and growing, so
//! that neither side can change its size afterwards (a shrunk file would make the other side's
//! accesses fault; a grown one would let a worker allocate memory beyond its address-space
//! limit). The worker inherits the descriptor (its number on the command line), checks its size
//! against the ABI's bounds and its seals, and maps it. The frames then carry only offsets and
//! lengths; every access on either side is bounds-checked against the mapping.
//!
//! The region counts against the worker's address-space limit (`RLIMIT_AS`); a worker that
//! cannot map it says so in its handshake and gets its jobs through the pipes, which remain the
//! path everywhere but Linux.

use std::io;
#[cfg(target_os = "linux")]
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
#[cfg(target_os = "linux")]
use std::ptr::NonNull;

#[cfg(target_os = "linux")]
use rustix::fs::{FallocateFlags, MemfdFlags, SealFlags};
#[cfg(target_os = "linux")]
use rustix::mm::{MapFlags, ProtFlags};

/// Page granularity the region's halves are aligned to.
const PAGE: u64 = 4096;

/// Bytes of each half kept resident between jobs; beyond this a job's pages are given back to
/// the kernel afterwards, so an idle worker does not hold its largest job's memory.
pub const RESIDENT_KEEP: u64 = 16 << 20;

/// Largest region a worker accepts: the ABI's largest input plus largest output, each rounded
/// up to a page.
pub const MAX_REGION_LEN: u64 =
    round_up(compute_market_job::MAX_INPUT_LEN) + round_up(compute_market_job::MAX_OUTPUT_LEN);

const fn round_up(len: u64) -> u64 {
    len.div_ceil(PAGE) * PAGE
}

/// Where input and output live in a region: input at 0, output after the largest input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Offset of the output (also the input's capacity).
    pub output_offset: u64,
    /// The output's capacity.
    pub output_capacity: u64,
}

impl Layout {
    /// The layout for inputs up to `max_input` and outputs up to `max_output` bytes, clamped to
    /// the ABI's limits.
    pub fn new(max_input: u64, max_output: u64) -> Self {
        let input = round_up(max_input.min(compute_market_job::MAX_INPUT_LEN));
        let output = round_up(max_output.min(compute_market_job::MAX_OUTPUT_LEN));
        Self {
            output_offset: input,
            output_capacity: output,
        }
    }

    /// The region's whole length.
    pub fn len(&self) -> u64 {
        self.output_offset + self.output_capacity
    }

    /// Whether the region is empty (never, for a real pool: outputs are at least 4 bytes).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a job with these sizes fits.
    pub fn fits(&self, input_len: u64, output_len: u64) -> bool {
        input_len <= self.output_offset && output_len <= self.output_capacity
    }
}

/// A mapped, sealed shared-memory region.
#[cfg(target_os = "linux")]
pub struct Region {
    fd: OwnedFd,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the region is plain memory owned by this value; all access goes through `&self` /
// `&mut self` methods that copy in or out.
#[cfg(target_os = "linux")]
unsafe impl Send for Region {}

#[cfg(target_os = "linux")]
impl Region {
    /// Parent: a new region of `len` bytes, sealed against resizing, mapped here.
    pub fn create(len: u64) -> io::Result<Self> {
        let fd = rustix::fs::memfd_create(
            "compute-market-job-io",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        rustix::fs::ftruncate(&fd, len)?;
        rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)?;
        Self::map(fd, len)
    }

    /// Worker: maps an inherited region after checking that its size is within
    /// [`MAX_REGION_LEN`] and that it cannot shrink under the mapping.
    pub fn open(fd: OwnedFd) -> io::Result<Self> {
        let len = u64::try_from(rustix::fs::fstat(&fd)?.st_size).unwrap_or(u64::MAX);
        if len == 0 || len > MAX_REGION_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("shared region of {len} bytes (at most {MAX_REGION_LEN})"),
            ));
        }
        let seals = rustix::fs::fcntl_get_seals(&fd)?;
        if !seals.contains(SealFlags::SHRINK | SealFlags::GROW) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "shared region is not sealed against resizing",
            ));
        }
        Self::map(fd, len)
    }

    fn map(fd: OwnedFd, len: u64) -> io::Result<Self> {
        let len = usize::try_from(len).map_err(io::Error::other)?;
        // SAFETY: a fresh shared mapping of a file we hold; nothing else refers to the address.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )?
        };
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap: null"))?;
        Ok(Self { fd, ptr, len })
    }

    /// The file descriptor (for the child to inherit).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The region's length in bytes.
    pub fn len(&self) -> u64 {
        self.len as u64
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `offset..offset + len` as a `usize` range, if it lies inside the region.
    fn range(&self, offset: u64, len: u64) -> io::Result<(usize, usize)> {
        let end = offset
            .checked_add(len)
            .filter(|&end| end <= self.len as u64);
        match end {
            Some(_) => Ok((offset as usize, len as usize)),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{len} bytes at offset {offset} exceed the {}-byte shared region",
                    self.len
                ),
            )),
        }
    }

    /// Copies `bytes` into the region at `offset`.
    pub fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let (at, len) = self.range(offset, bytes.len() as u64)?;
        // SAFETY: `at..at + len` lies inside the mapping (checked above); `bytes` is ordinary
        // memory that cannot overlap it. The other process may touch the same bytes at the same
        // time only if it breaks the protocol, which costs it its own output, not our memory.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.as_ptr().add(at), len);
        }
        Ok(())
    }

    /// Copies `len` bytes at `offset` out of the region. No reference into the shared memory
    /// escapes: the other process could change it at any time.
    pub fn read_at(&self, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let (at, len) = self.range(offset, len)?;
        let mut out = Vec::with_capacity(len);
        // SAFETY: as in `write_at`; `out` has capacity `len` and every byte is written before
        // `set_len`.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(at), out.as_mut_ptr(), len);
            out.set_len(len);
        }
        Ok(out)
    }

    /// Gives the pages of `offset..offset + len` back to the kernel (they read as zeros
    /// afterwards): a large job's memory is not held while the worker idles.
    pub fn release(&self, offset: u64, len: u64) -> io::Result<()> {
        self.range(offset, len)?;
        rustix::fs::fallocate(
            &self.fd,
            FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
            offset,
            len,
        )?;
        Ok(())
    }

    /// After a job that used `used` bytes of the half starting at `offset`: releases what lies
    /// beyond [`RESIDENT_KEEP`].
    pub fn trim(&self, offset: u64, used: u64) -> io::Result<()> {
        if used > RESIDENT_KEEP {
            self.release(offset + RESIDENT_KEEP, round_up(used) - RESIDENT_KEEP)?;
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `map` with this length and is not used after this.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Elsewhere there is no region: bulk data travels through the pipes.
#[cfg(not(target_os = "linux"))]
pub enum Region {}

#[cfg(not(target_os = "linux"))]
impl Region {
    /// Copies `bytes` into the region at `offset` (no region exists here).
    pub fn write_at(&mut self, _offset: u64, _bytes: &[u8]) -> io::Result<()> {
        match *self {}
    }

    /// Copies bytes out of the region (no region exists here).
    pub fn read_at(&self, _offset: u64, _len: u64) -> io::Result<Vec<u8>> {
        match *self {}
    }

    /// Releases pages beyond [`RESIDENT_KEEP`] (no region exists here).
    pub fn trim(&self, _offset: u64, _used: u64) -> io::Result<()> {
        match *self {}
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn two_mappings_share_bytes_and_accesses_are_bounded() {
        let layout = Layout::new(8 << 10, 4 << 10);
        assert_eq!(layout.output_offset, 8 << 10);
        assert!(layout.fits(8 << 10, 4 << 10) && !layout.fits(8 << 10, (4 << 10) + 1));
        let mut parent = Region::create(layout.len()).unwrap();
        let mut child = Region::open(parent.fd.try_clone().unwrap()).unwrap();
        parent.write_at(0, b"input").unwrap();
        assert_eq!(child.read_at(0, 5).unwrap(), b"input");
        child.write_at(layout.output_offset, b"output").unwrap();
        assert_eq!(parent.read_at(layout.output_offset, 6).unwrap(), b"output");
        // Out of bounds, including overflowing offsets, are errors, never accesses.
        assert!(parent.read_at(layout.len() - 2, 3).is_err());
        assert!(parent.read_at(u64::MAX, 2).is_err());
        assert!(child.write_at(layout.len(), b"x").is_err());
        // Sealed: nobody can shrink or grow it.
        assert!(rustix::fs::ftruncate(&child.fd, 4096).is_err());
        assert!(rustix::fs::ftruncate(&child.fd, layout.len() * 2).is_err());
        // Released pages read as zeros.
        parent.release(0, 4096).unwrap();
        assert_eq!(child.read_at(0, 5).unwrap(), [0; 5]);
    }

    #[test]
    fn a_worker_refuses_unsealed_or_oversized_regions() {
        let fd = rustix::fs::memfd_create("t", MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&fd, 4096).unwrap();
        assert!(Region::open(fd).is_err());
        let fd = rustix::fs::memfd_create("t", MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&fd, MAX_REGION_LEN + 4096).unwrap();
        assert!(Region::open(fd).is_err());
    }
}
