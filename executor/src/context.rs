//! Adapter enumeration, explicit selection and the one device a process uses.

use std::fmt;
use std::sync::{Arc, Mutex};

use wgpu::{Backends, DeviceType};

/// Packages that give a machine without a GPU a software Vulkan adapter (Mesa lavapipe).
pub const NO_ADAPTER_HINT: &str = "no Vulkan/Metal/DX12 adapter found. On Debian/Ubuntu without a GPU install the software \
     adapter: `apt-get install -y --no-install-recommends mesa-vulkan-drivers libvulkan1`; with a GPU, \
     install its vendor's Vulkan driver";

/// Which adapter to use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AdapterChoice {
    /// The best hardware adapter (discrete, then integrated, then virtual); a CPU adapter only
    /// when there is no hardware adapter and CPU adapters are allowed.
    #[default]
    Auto,
    /// The adapter at this index of [`enumerate_adapters`] (as `provider-daemon check` lists).
    Index(usize),
    /// The first adapter whose name contains this text (case-insensitive).
    Name(String),
}

impl std::str::FromStr for AdapterChoice {
    type Err = std::convert::Infallible;

    /// `auto` (or empty), a number (index) or any other text (name).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Ok(if s.is_empty() || s.eq_ignore_ascii_case("auto") {
            AdapterChoice::Auto
        } else if let Ok(index) = s.parse() {
            AdapterChoice::Index(index)
        } else {
            AdapterChoice::Name(s.to_string())
        })
    }
}

impl fmt::Display for AdapterChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdapterChoice::Auto => f.write_str("auto"),
            AdapterChoice::Index(i) => write!(f, "{i}"),
            AdapterChoice::Name(n) => f.write_str(n),
        }
    }
}

/// How to pick and open the GPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuConfig {
    /// Which adapter.
    pub adapter: AdapterChoice,
    /// Allow a CPU (software) adapter (lavapipe, WARP): without it one is never used, however
    /// chosen. [`AdapterChoice::Auto`] never prefers a CPU adapter over hardware, and falls back
    /// to one only with this set. (A software adapter is slow and lavapipe stops loops after
    /// 65,535 iterations: a provider serving on one by accident would be slashed.)
    pub allow_cpu: bool,
}

impl Default for GpuConfig {
    fn default() -> Self {
        Self {
            adapter: AdapterChoice::Auto,
            allow_cpu: false,
        }
    }
}

/// The backends the executor uses. GL is deliberately excluded: naga's GLSL output differs from
/// WGSL on integer division edge cases, so hashes would differ.
pub const BACKENDS: Backends = Backends::PRIMARY;

/// A printable description of one adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterSummary {
    /// Index in [`enumerate_adapters`] order.
    pub index: usize,
    /// Adapter name (e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// Vulkan, Metal or DX12.
    pub backend: String,
    /// Discrete, integrated, virtual, CPU or other.
    pub device_type: String,
    /// Driver name and version information.
    pub driver: String,
    /// Whether this is a software (CPU) adapter.
    pub is_cpu: bool,
    /// PCI vendor id as the driver reports it (0x10de NVIDIA, 0x1002 AMD, 0x8086 Intel,
    /// 0x106b Apple, 0x10005 Mesa's software adapters); 0 when the backend gives none.
    pub vendor_id: u32,
    /// Device-local memory in bytes: the largest `DEVICE_LOCAL` heap on Vulkan (for a CPU
    /// adapter, the system memory it may use). `None` where the backend does not say (Metal,
    /// DX12).
    pub memory_bytes: Option<u64>,
}

impl AdapterSummary {
    /// Device memory in MiB as published on-chain: [`Self::memory_bytes`], or, where the backend
    /// does not report it, the largest buffer the device accepts (a lower bound).
    pub fn memory_mib(&self, limits: &compute_market_job::Limits) -> u32 {
        let bytes = self.memory_bytes.unwrap_or(limits.max_buffer_size);
        u32::try_from(bytes >> 20).unwrap_or(u32::MAX)
    }
}

impl fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {} ({}, {}, vendor {:#x}, ",
            self.index, self.name, self.backend, self.device_type, self.vendor_id
        )?;
        match self.memory_bytes {
            Some(bytes) => write!(f, "{} MiB", bytes >> 20)?,
            None => f.write_str("memory not reported")?,
        }
        write!(f, ", driver: {})", self.driver)
    }
}

/// Why no device could be opened.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter at all.
    #[error("{NO_ADAPTER_HINT}")]
    NoAdapter,
    /// The requested adapter does not exist.
    #[error(
        "no adapter matches `{choice}`; available adapters:\n{}",
        list(available)
    )]
    AdapterNotFound {
        /// What was asked for.
        choice: AdapterChoice,
        /// What exists.
        available: Vec<AdapterSummary>,
    },
    /// A CPU adapter was chosen (explicitly, or by `auto` because there is no hardware adapter)
    /// without `allow_cpu`.
    #[error("`{name}` is a CPU (software) adapter: slow, and it stops long loops (wrong results \
             get a provider slashed); pass --allow-cpu (or set gpu.allow_cpu) to use it anyway:\n{}", list(available))]
    CpuAdapterNotAllowed {
        /// The chosen adapter.
        name: String,
        /// What exists.
        available: Vec<AdapterSummary>,
    },
    /// An adapter is listed twice in `gpu.adapters`.
    #[error("adapter {index} (`{name}`) is listed twice in gpu.adapters: list each adapter once")]
    DuplicateAdapter {
        /// Its index.
        index: usize,
        /// Its name.
        name: String,
    },
    /// The adapter refused to open a device.
    #[error("could not open a device on `{adapter}`: {message}")]
    RequestDevice {
        /// The adapter.
        adapter: String,
        /// wgpu's message.
        message: String,
    },
    /// The adapter cannot bind every buffer of the job ABI at once.
    #[error("`{adapter}` cannot bind the job ABI's buffers: {message}")]
    AbiUnsupported {
        /// The adapter.
        adapter: String,
        /// Which limit is too low.
        message: String,
    },
}

/// What the job ABI's one bind group needs of a device: input, output and four scratch buffers
/// (storage), the parameter and pass blocks (uniform, one with a dynamic offset).
pub fn check_abi_limits(limits: &wgpu::Limits) -> Result<(), String> {
    let needs = [
        (
            "storage buffers per shader stage",
            limits.max_storage_buffers_per_shader_stage,
            2 + compute_market_job::MAX_SCRATCH_BUFFERS as u32,
        ),
        (
            "uniform buffers per shader stage",
            limits.max_uniform_buffers_per_shader_stage,
            2,
        ),
        (
            "dynamic uniform buffers per pipeline layout",
            limits.max_dynamic_uniform_buffers_per_pipeline_layout,
            1,
        ),
    ];
    match needs.iter().find(|(_, has, needs)| has < needs) {
        Some((what, has, needs)) => Err(format!("{what}: {has}, the job ABI needs {needs}")),
        None => Ok(()),
    }
}

fn list(adapters: &[AdapterSummary]) -> String {
    if adapters.is_empty() {
        return format!("  (none) — {NO_ADAPTER_HINT}");
    }
    adapters
        .iter()
        .map(|a| format!("  {a}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn summarize(index: usize, adapter: &wgpu::Adapter) -> AdapterSummary {
    let info = adapter.get_info();
    let driver = [info.driver.as_str(), info.driver_info.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    AdapterSummary {
        index,
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver,
        is_cpu: info.device_type == DeviceType::Cpu,
        vendor_id: info.vendor,
        memory_bytes: device_local_memory(adapter),
    }
}

/// The largest `DEVICE_LOCAL` memory heap of a Vulkan adapter, in bytes; `None` on other
/// backends (wgpu has no portable query).
fn device_local_memory(adapter: &wgpu::Adapter) -> Option<u64> {
    /// `VK_MEMORY_HEAP_DEVICE_LOCAL_BIT`.
    const DEVICE_LOCAL: u32 = 0x1;
    // SAFETY: the hal adapter is only read (an instance-level property query) while `adapter`
    // and its instance are alive; no wgpu object is created or destroyed through it.
    let hal = unsafe { adapter.as_hal::<wgpu::hal::api::Vulkan>() }?;
    let instance = hal.shared_instance().raw_instance();
    // SAFETY: the physical device was enumerated from this instance.
    let properties =
        unsafe { instance.get_physical_device_memory_properties(hal.raw_physical_device()) };
    let count = usize::try_from(properties.memory_heap_count).ok()?;
    properties
        .memory_heaps
        .get(..count)?
        .iter()
        .filter(|heap| heap.flags.as_raw() & DEVICE_LOCAL != 0)
        .map(|heap| heap.size)
        .max()
}

fn new_instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: BACKENDS,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    })
}

/// Lists the adapters of the primary backends, in a stable order (the order `--adapter <index>`
/// refers to).
pub fn enumerate_adapters() -> Vec<AdapterSummary> {
    let instance = new_instance();
    pollster::block_on(instance.enumerate_adapters(BACKENDS))
        .iter()
        .enumerate()
        .map(|(i, a)| summarize(i, a))
        .collect()
}

fn rank(device_type: DeviceType) -> u8 {
    match device_type {
        DeviceType::DiscreteGpu => 0,
        DeviceType::IntegratedGpu => 1,
        DeviceType::VirtualGpu => 2,
        DeviceType::Other => 3,
        DeviceType::Cpu => 4,
    }
}

/// Converts device limits into the ABI's plain limits struct.
pub fn abi_limits(limits: &wgpu::Limits) -> compute_market_job::Limits {
    compute_market_job::Limits {
        max_workgroup_size: [
            limits.max_compute_workgroup_size_x,
            limits.max_compute_workgroup_size_y,
            limits.max_compute_workgroup_size_z,
        ],
        max_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
        max_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
        max_storage_binding_size: limits.max_storage_buffer_binding_size,
        max_buffer_size: limits.max_buffer_size,
        max_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
    }
}

/// Errors wgpu reported outside any error scope, recorded instead of panicking.
#[derive(Clone, Default)]
pub struct UncapturedErrors(Arc<Mutex<Vec<String>>>);

impl UncapturedErrors {
    /// Takes the recorded errors.
    pub fn take(&self) -> Vec<String> {
        match self.0.lock() {
            Ok(mut errors) => std::mem::take(&mut *errors),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    fn push(&self, message: String) {
        match self.0.lock() {
            Ok(mut errors) => errors.push(message),
            Err(poisoned) => poisoned.into_inner().push(message),
        }
    }
}

/// The device of this process, opened once from an explicit adapter choice.
pub struct GpuContext {
    /// The selected adapter.
    pub adapter: AdapterSummary,
    /// The device's limits (the adapter's full limits).
    pub limits: wgpu::Limits,
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Errors outside error scopes (should stay empty).
    pub uncaptured: UncapturedErrors,
    /// Set when the device is lost.
    pub lost: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Selects an adapter per `config`, opens a device with the adapter's full limits, installs
    /// non-panicking error handlers and logs what it chose.
    pub fn new(config: &GpuConfig) -> Result<Self, GpuError> {
        let instance = new_instance();
        let adapters = pollster::block_on(instance.enumerate_adapters(BACKENDS));
        let summaries: Vec<AdapterSummary> = adapters
            .iter()
            .enumerate()
            .map(|(i, a)| summarize(i, a))
            .collect();
        if adapters.is_empty() {
            return Err(GpuError::NoAdapter);
        }
        let chosen = select(&summaries, config)?;
        let adapter = &adapters[chosen];
        let summary = summaries[chosen].clone();
        if summary.is_cpu {
            tracing::warn!(
                adapter = %summary.name,
                "using a CPU (software) adapter: slow, and it truncates long loops (lavapipe stops each \
                 invocation after 65,535 loop iterations)"
            );
        }

        let limits = adapter.limits();
        check_abi_limits(&limits).map_err(|message| GpuError::AbiUnsupported {
            adapter: summary.name.clone(),
            message,
        })?;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("compute-market executor"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        }))
        .map_err(|e| GpuError::RequestDevice {
            adapter: summary.name.clone(),
            message: e.to_string(),
        })?;

        let uncaptured = UncapturedErrors::default();
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            tracing::error!(%error, "uncaptured wgpu error");
            sink.push(error.to_string());
        }));
        let lost = Arc::new(Mutex::new(None));
        let lost_sink = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            tracing::error!(?reason, %message, "GPU device lost");
            if let Ok(mut slot) = lost_sink.lock() {
                *slot = Some(format!("{reason:?}: {message}"));
            }
        });

        tracing::info!(
            adapter = %summary.name,
            backend = %summary.backend,
            device_type = %summary.device_type,
            driver = %summary.driver,
            max_workgroup_size = ?[limits.max_compute_workgroup_size_x, limits.max_compute_workgroup_size_y, limits.max_compute_workgroup_size_z],
            max_invocations = limits.max_compute_invocations_per_workgroup,
            max_workgroups_per_dimension = limits.max_compute_workgroups_per_dimension,
            max_storage_binding = limits.max_storage_buffer_binding_size,
            max_buffer = limits.max_buffer_size,
            max_workgroup_storage = limits.max_compute_workgroup_storage_size,
            "GPU context ready"
        );
        Ok(Self {
            adapter: summary,
            limits,
            device,
            queue,
            uncaptured,
            lost,
        })
    }

    /// The device limits as the ABI's plain struct.
    pub fn abi_limits(&self) -> compute_market_job::Limits {
        abi_limits(&self.limits)
    }

    /// The reason the device was lost, if it was.
    pub fn lost_reason(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|slot| slot.clone())
    }
}

/// Picks an adapter index per the choice and the CPU policy.
pub fn select(adapters: &[AdapterSummary], config: &GpuConfig) -> Result<usize, GpuError> {
    let not_found = || GpuError::AdapterNotFound {
        choice: config.adapter.clone(),
        available: adapters.to_vec(),
    };
    let chosen = match &config.adapter {
        AdapterChoice::Index(i) => adapters.get(*i).ok_or_else(not_found)?,
        AdapterChoice::Name(name) => {
            let needle = name.to_lowercase();
            adapters
                .iter()
                .find(|a| a.name.to_lowercase().contains(&needle))
                .ok_or_else(not_found)?
        }
        AdapterChoice::Auto => {
            let best = |cpu: bool| {
                adapters
                    .iter()
                    .filter(|a| a.is_cpu == cpu)
                    .min_by_key(|a| (rank(device_type_of(a)), a.index))
            };
            best(false)
                .or_else(|| best(true))
                .ok_or(GpuError::NoAdapter)?
        }
    };
    if chosen.is_cpu && !config.allow_cpu {
        return Err(GpuError::CpuAdapterNotAllowed {
            name: chosen.name.clone(),
            available: adapters.to_vec(),
        });
    }
    Ok(chosen.index)
}

/// Resolves the `gpu.adapters` list into distinct adapter indices, in the order given. Each
/// entry is `auto` (as [`AdapterChoice::Auto`]), `all` (every hardware adapter; the CPU ones
/// only when there is no hardware adapter and `allow_cpu` is set), an index or part of a name.
/// An empty list means `auto`. An adapter named twice is refused.
pub fn select_many(
    adapters: &[AdapterSummary],
    choices: &[String],
    allow_cpu: bool,
) -> Result<Vec<usize>, GpuError> {
    let single = |choice: AdapterChoice| {
        select(
            adapters,
            &GpuConfig {
                adapter: choice,
                allow_cpu,
            },
        )
    };
    let mut chosen = Vec::new();
    if choices.is_empty() {
        chosen.push(single(AdapterChoice::Auto)?);
    }
    for choice in choices {
        if choice.trim().eq_ignore_ascii_case("all") {
            let hardware: Vec<usize> = adapters
                .iter()
                .filter(|a| !a.is_cpu)
                .map(|a| a.index)
                .collect();
            if hardware.is_empty() {
                // No GPU: `all` means the CPU adapters, under the same rule as `auto`.
                single(AdapterChoice::Auto)?;
                chosen.extend(adapters.iter().map(|a| a.index));
            } else {
                chosen.extend(hardware);
            }
        } else {
            chosen.push(single(choice.parse().unwrap_or_default())?);
        }
    }
    for (i, index) in chosen.iter().enumerate() {
        if chosen[..i].contains(index) {
            return Err(GpuError::DuplicateAdapter {
                index: *index,
                name: adapters[*index].name.clone(),
            });
        }
    }
    Ok(chosen)
}

fn device_type_of(a: &AdapterSummary) -> DeviceType {
    match a.device_type.as_str() {
        "DiscreteGpu" => DeviceType::DiscreteGpu,
        "IntegratedGpu" => DeviceType::IntegratedGpu,
        "VirtualGpu" => DeviceType::VirtualGpu,
        "Cpu" => DeviceType::Cpu,
        _ => DeviceType::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(index: usize, name: &str, device_type: &str) -> AdapterSummary {
        AdapterSummary {
            index,
            name: name.into(),
            backend: "Vulkan".into(),
            device_type: device_type.into(),
            driver: String::new(),
            is_cpu: device_type == "Cpu",
            vendor_id: 0,
            memory_bytes: None,
        }
    }

    #[test]
    fn parses_choices() {
        assert_eq!("".parse::<AdapterChoice>(), Ok(AdapterChoice::Auto));
        assert_eq!("AUTO".parse::<AdapterChoice>(), Ok(AdapterChoice::Auto));
        assert_eq!("2".parse::<AdapterChoice>(), Ok(AdapterChoice::Index(2)));
        assert_eq!(
            "rtx".parse::<AdapterChoice>(),
            Ok(AdapterChoice::Name("rtx".into()))
        );
    }

    #[test]
    fn an_adapter_that_cannot_bind_the_abis_buffers_is_refused_by_name() {
        assert_eq!(check_abi_limits(&wgpu::Limits::default()), Ok(()));
        let four = wgpu::Limits {
            max_storage_buffers_per_shader_stage: 4,
            ..wgpu::Limits::default()
        };
        assert_eq!(
            check_abi_limits(&four),
            Err("storage buffers per shader stage: 4, the job ABI needs 6".into())
        );
    }

    #[test]
    fn auto_prefers_hardware_and_gates_cpu() {
        let mixed = [
            adapter(0, "llvmpipe", "Cpu"),
            adapter(1, "Intel UHD", "IntegratedGpu"),
            adapter(2, "RTX 4090", "DiscreteGpu"),
        ];
        let auto = GpuConfig::default();
        assert_eq!(select(&mixed, &auto).ok(), Some(2));
        let cpu_only = [adapter(0, "llvmpipe", "Cpu")];
        assert!(
            matches!(
                select(&cpu_only, &auto),
                Err(GpuError::CpuAdapterNotAllowed { .. })
            ),
            "a software adapter is never used without allow_cpu, even when it is the only one"
        );
        let auto_cpu = GpuConfig {
            allow_cpu: true,
            ..GpuConfig::default()
        };
        assert_eq!(select(&cpu_only, &auto_cpu).ok(), Some(0));
        assert_eq!(select(&mixed, &auto_cpu).ok(), Some(2), "hardware first");
        assert!(matches!(select(&[], &auto), Err(GpuError::NoAdapter)));
        let by_name = GpuConfig {
            adapter: AdapterChoice::Name("LLVM".into()),
            ..GpuConfig::default()
        };
        assert!(matches!(
            select(&mixed, &by_name),
            Err(GpuError::CpuAdapterNotAllowed { .. })
        ));
        let allowed = GpuConfig {
            allow_cpu: true,
            ..by_name
        };
        assert_eq!(select(&mixed, &allowed).ok(), Some(0));
        let missing = GpuConfig {
            adapter: AdapterChoice::Index(7),
            ..GpuConfig::default()
        };
        assert!(matches!(
            select(&mixed, &missing),
            Err(GpuError::AdapterNotFound { .. })
        ));
    }

    #[test]
    fn adapter_lists_resolve_to_distinct_adapters() {
        let mixed = [
            adapter(0, "llvmpipe", "Cpu"),
            adapter(1, "RTX 4090", "DiscreteGpu"),
            adapter(2, "RTX 3090", "DiscreteGpu"),
        ];
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(select_many(&mixed, &[], false).unwrap(), vec![1]);
        assert_eq!(
            select_many(&mixed, &list(&["all"]), true).unwrap(),
            vec![1, 2],
            "no CPU beside GPUs"
        );
        assert_eq!(
            select_many(&mixed, &list(&["rtx 3090", "1"]), false).unwrap(),
            vec![2, 1]
        );
        assert!(matches!(
            select_many(&mixed, &list(&["1", "rtx 4090"]), false),
            Err(GpuError::DuplicateAdapter { index: 1, .. })
        ));
        assert!(matches!(
            select_many(&mixed, &list(&["0"]), false),
            Err(GpuError::CpuAdapterNotAllowed { .. })
        ));
        let cpu_only = [adapter(0, "llvmpipe", "Cpu")];
        assert!(matches!(
            select_many(&cpu_only, &list(&["all"]), false),
            Err(GpuError::CpuAdapterNotAllowed { .. })
        ));
        assert_eq!(
            select_many(&cpu_only, &list(&["all"]), true).unwrap(),
            vec![0]
        );
    }
}
