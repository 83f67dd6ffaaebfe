//! The sandbox every process that touches untrusted shaders starts in: GPU workers and the
//! shader validator.
//!
//! What it does (Linux; elsewhere only the environment is scrubbed):
//!
//! * **Environment**: cleared, then only the variables a GPU driver needs are passed
//!   ([`BUILTIN_PASS_ENV`] plus the operator's [`SandboxConfig::pass_env`]): cloud credentials,
//!   RPC tokens and the like in the daemon's environment never reach a worker.
//! * **Resource limits** (`setrlimit` between `fork` and `exec`, hard = soft so the child cannot
//!   raise them): address space ([`SandboxConfig::max_address_space`]), CPU time (a lifetime
//!   budget given per process), open files ([`SandboxConfig::max_open_files`]) and no core dumps.
//! * **Lifetime**: `PR_SET_PDEATHSIG(SIGKILL)`, so a worker dies with the daemon even while it is
//!   stuck on the GPU; processes are started from one long-lived thread (the death signal follows
//!   the *thread* that forked, and tokio's blocking threads come and go).
//! * **No privilege gain**: `PR_SET_NO_NEW_PRIVS`, so no set-uid program it runs gains anything.
//! * **No network** (when [`SandboxConfig::isolate_network`]): a new user and network namespace
//!   (`unshare(CLONE_NEWUSER | CLONE_NEWNET)`), which holds only a loopback device that is down.
//!   Where unprivileged user namespaces are disabled the process starts without it and the
//!   daemon logs once that network isolation is unavailable.
//!
//! What it does not do: the file system stays readable with the daemon's user id (no Landlock
//! or mount namespace), the GPU driver and kernel are still attack surface, and a worker can
//! still exhaust the GPU's own memory. See the README's "Worker sandbox" section.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

/// Variables every sandboxed process receives from the daemon's environment when set: the
/// Vulkan loader and driver switches (`VK_*`, Mesa's `MESA_*`, `LP_*`, `GALLIUM_*`, `RADV_*`),
/// wgpu's own (`WGPU_*`), the library search path, and logging. A trailing `*` matches a prefix.
pub const BUILTIN_PASS_ENV: &[&str] = &[
    "PATH",
    "LD_LIBRARY_PATH",
    "XDG_RUNTIME_DIR",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "VK_*",
    "MESA_*",
    "LP_*",
    "GALLIUM_*",
    "RADV_*",
    "WGPU_*",
];

/// Default [`SandboxConfig::max_address_space`]: 16 GiB of virtual memory. An idle lavapipe
/// worker maps about 0.8 GiB and one running the largest job (128 MiB in and out) about 2 GiB,
/// the shared region for job data ([`crate::shm`], up to 256 MiB) included; hardware drivers
/// reserve more address space than they use.
pub const DEFAULT_MAX_ADDRESS_SPACE: u64 = 16 << 30;

/// Default [`SandboxConfig::max_open_files`].
pub const DEFAULT_MAX_OPEN_FILES: u64 = 1024;

/// Default [`SandboxConfig::max_cpu_time`]: one hour of CPU per worker process.
pub const DEFAULT_MAX_CPU_TIME: Duration = Duration::from_secs(3600);

/// How sandboxed processes are started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Extra variables passed from the daemon's environment, beyond [`BUILTIN_PASS_ENV`] (names;
    /// a trailing `*` matches a prefix).
    pub pass_env: Vec<String>,
    /// Address-space limit of each process, in bytes (`None`: unlimited).
    pub max_address_space: Option<u64>,
    /// Open-file limit of each process.
    pub max_open_files: u64,
    /// CPU-time limit of one worker over its life; the pool retires a worker before a job could
    /// run into it.
    pub max_cpu_time: Duration,
    /// Start processes in a new network namespace (no network) where the kernel allows it.
    pub isolate_network: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            pass_env: Vec::new(),
            max_address_space: Some(DEFAULT_MAX_ADDRESS_SPACE),
            max_open_files: DEFAULT_MAX_OPEN_FILES,
            max_cpu_time: DEFAULT_MAX_CPU_TIME,
            isolate_network: true,
        }
    }
}

impl SandboxConfig {
    /// Whether the variable `name` may pass into a sandboxed process.
    pub fn passes(&self, name: &OsStr) -> bool {
        let Some(name) = name.to_str() else {
            return false;
        };
        BUILTIN_PASS_ENV
            .iter()
            .copied()
            .chain(self.pass_env.iter().map(String::as_str))
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == pattern,
            })
    }

    /// The environment a sandboxed process gets from `parent`: the variables that pass, and a
    /// `XDG_RUNTIME_DIR` (Mesa's Vulkan loader complains on every start without one; services
    /// and CI often have none, and the process never writes there).
    pub fn environment(
        &self,
        parent: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = parent
            .into_iter()
            .filter(|(name, _)| self.passes(name))
            .collect();
        if !env.iter().any(|(name, _)| name == "XDG_RUNTIME_DIR") {
            env.push(("XDG_RUNTIME_DIR".into(), std::env::temp_dir().into()));
        }
        env
    }
}

/// Starts sandboxed processes from one long-lived thread (see the module documentation).
pub struct Sandbox {
    config: SandboxConfig,
    requests: Mutex<mpsc::Sender<SpawnRequest>>,
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

impl Sandbox {
    /// Starts the spawning thread.
    pub fn new(config: SandboxConfig) -> io::Result<Self> {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("sandbox-spawner".into())
            .spawn(move || {
                // Ends when the `Sandbox` is dropped; its children then get their death signal,
                // which is what dropping the pool does to them anyway.
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
            })?;
        Ok(Self {
            config,
            requests: Mutex::new(requests),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// A command for `exe` with the sandbox's environment and limits; `cpu` is the process's
    /// CPU-time limit. Start it with [`Sandbox::spawn`].
    pub fn command(&self, exe: &Path, cpu: Duration) -> Command {
        let mut command = Command::new(exe);
        command
            .env_clear()
            .envs(self.config.environment(std::env::vars_os()));
        #[cfg(target_os = "linux")]
        linux::confine(&mut command, &self.config, cpu);
        #[cfg(not(target_os = "linux"))]
        let _ = cpu;
        command
    }

    /// Spawns `command` (from [`Sandbox::command`]) on the spawning thread, and logs once if
    /// network isolation was asked for but the kernel refused it.
    pub fn spawn(&self, command: Command) -> io::Result<Child> {
        let (reply, answer) = mpsc::channel();
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send((command, reply))
            .map_err(|_| io::Error::other("the sandbox's spawning thread is gone"))?;
        let child = answer
            .recv()
            .map_err(|_| io::Error::other("the sandbox's spawning thread is gone"))??;
        if self.config.isolate_network && has_own_network(child.id()) == Some(false) {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "network isolation of workers is unavailable (unprivileged user namespaces \
                     are disabled on this host): workers can reach the network"
                );
            }
        }
        Ok(child)
    }
}

/// Whether process `pid` lives in a network namespace other than this process's (`None`: cannot
/// tell, e.g. it already exited).
pub fn has_own_network(pid: u32) -> Option<bool> {
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    let ours = std::fs::read_link("/proc/self/ns/net").ok()?;
    Some(theirs != ours)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::os::unix::process::CommandExt as _;
    use std::time::Duration;

    use rustix::process::{Resource, Rlimit};
    use rustix::thread::UnshareFlags;

    use super::SandboxConfig;

    /// Installs the limits, the death signal, no-new-privileges and the namespaces, applied in
    /// the child between `fork` and `exec`.
    pub(super) fn confine(
        command: &mut std::process::Command,
        config: &SandboxConfig,
        cpu: Duration,
    ) {
        let parent = rustix::process::getpid();
        let address_space = config.max_address_space;
        let open_files = config.max_open_files;
        // Rounded up, and at least a second: 0 would kill the process at once.
        let cpu_seconds = cpu.as_secs().saturating_add(1);
        let isolate_network = config.isolate_network;
        let hook = move || -> std::io::Result<()> {
            // Only raw system calls from here on: no allocation, no locks (this runs in the
            // forked child of a multi-threaded process).
            let limit = |resource, value: Option<u64>| {
                rustix::process::setrlimit(
                    resource,
                    Rlimit {
                        current: value,
                        maximum: value,
                    },
                )
            };
            limit(Resource::Core, Some(0))?;
            limit(Resource::Nofile, Some(open_files))?;
            limit(Resource::Cpu, Some(cpu_seconds))?;
            if address_space.is_some() {
                limit(Resource::As, address_space)?;
            }
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            // The parent may have died before the death signal was armed.
            if rustix::process::getppid() != Some(parent) {
                return Err(std::io::Error::other("the daemon exited"));
            }
            rustix::thread::set_no_new_privs(true)?;
            if isolate_network {
                // SAFETY: the child is single-threaded between fork and exec, and no file
                // descriptor table is unshared.
                let isolated = unsafe {
                    rustix::thread::unshare_unsafe(UnshareFlags::NEWUSER | UnshareFlags::NEWNET)
                };
                if isolated.is_err() {
                    // No unprivileged user namespaces: a network namespace alone needs
                    // CAP_SYS_ADMIN. Either way the process starts; the parent checks and logs.
                    // SAFETY: as above.
                    let _ = unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNET) };
                }
            }
            Ok(())
        };
        // SAFETY: the hook only makes async-signal-safe system calls (see above).
        unsafe {
            command.pre_exec(hook);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_variables_pass() {
        let config = SandboxConfig {
            pass_env: vec!["CUDA_CACHE_PATH".into(), "__NV_*".into()],
            ..SandboxConfig::default()
        };
        let parent = [
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
            ("COMPUTE_MARKET__MARKET", "x"),
            ("HOME", "/root"),
            ("VK_ICD_FILENAMES", "/icd.json"),
            ("MESA_SHADER_CACHE_DIR", "/c"),
            ("RUST_LOG", "info"),
            ("CUDA_CACHE_PATH", "/cc"),
            ("CUDA_CACHE_PATHS", "/cc"),
            ("__NV_PRIME_RENDER_OFFLOAD", "1"),
            ("XDG_RUNTIME_DIR", "/run/user/1"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let names: Vec<String> = config
            .environment(parent)
            .into_iter()
            .map(|(k, _)| k.into_string().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "VK_ICD_FILENAMES",
                "MESA_SHADER_CACHE_DIR",
                "RUST_LOG",
                "CUDA_CACHE_PATH",
                "__NV_PRIME_RENDER_OFFLOAD",
                "XDG_RUNTIME_DIR"
            ]
        );
    }

    #[test]
    fn a_runtime_dir_is_always_given() {
        let env = SandboxConfig::default().environment([]);
        assert_eq!(env.len(), 1);
        assert_eq!(env[0].0, "XDG_RUNTIME_DIR");
    }
}
