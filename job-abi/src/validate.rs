//! WGSL validation against the ABI, with naga, before anything touches a device.

use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use naga::{AddressSpace, Module, ScalarKind, ShaderStage, StorageAccess, TypeInner};

use crate::abi::{
    tightest, Caps, JobDescriptor, LimitSource, Limits, BINDING_DECLARATIONS, BINDING_INPUT,
    BINDING_OUTPUT, BINDING_PARAMS, BIND_GROUP, MAX_ENTRY_POINT_LEN, MAX_PRIVATE_MEMORY,
    MAX_SOURCE_LEN, PARAMS_LEN,
};
use crate::error::{AbiError, Location};
use crate::manifest::{
    BINDING_PASS, BINDING_SCRATCH, MAX_PASSES, MAX_SCRATCH_BUFFERS, PASS_INFO_LEN,
};

/// Whether a job's result can be verified by comparing hashes between providers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeterminismClass {
    /// Integer and boolean arithmetic only: every conforming GPU produces the same bytes, so
    /// results are verifiable by comparing result hashes between providers.
    Exact,
    /// Uses a floating-point type or builtin: results may differ between GPUs and drivers, so
    /// they are **not** verifiable by comparing hashes.
    Float,
}

impl DeterminismClass {
    /// `"exact"` or `"float"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeterminismClass::Exact => "exact",
            DeterminismClass::Float => "float",
        }
    }

    /// Whether two providers' result hashes can be compared to verify this job.
    pub fn is_hash_verifiable(self) -> bool {
        self == DeterminismClass::Exact
    }

    /// The sentence to show next to the class wherever it is displayed.
    pub fn verification_note(self) -> &'static str {
        match self {
            DeterminismClass::Exact => {
                "integer-only: verifiable by comparing result hashes between providers"
            }
            DeterminismClass::Float => {
                "uses floating point: NOT verifiable by comparing result hashes between providers"
            }
        }
    }
}

impl std::fmt::Display for DeterminismClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.verification_note())
    }
}

/// What validation learned about a shader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShaderInfo {
    /// The (first) entry point's `@workgroup_size`.
    pub workgroup_size: [u32; 3],
    /// Exact or float (see [`DeterminismClass`]).
    pub determinism: DeterminismClass,
    /// Whether the shader declares the input binding.
    pub declares_input: bool,
    /// Whether the shader declares the params binding.
    pub declares_params: bool,
    /// Minimum input size the shader's input type needs, in bytes (0 if not declared).
    pub input_min_len: u64,
    /// Minimum output size the shader's output type needs, in bytes.
    pub output_min_len: u64,
    /// Bytes of `var<workgroup>` memory.
    pub workgroup_storage_bytes: u64,
    /// Bytes of private plus function-local memory (upper bound per invocation).
    pub private_memory_bytes: u64,
    /// Minimum size of each scratch buffer the shader declares (bindings 4…7), `None` where it
    /// declares none.
    pub scratch_min_len: [Option<u64>; MAX_SCRATCH_BUFFERS],
}

/// Validates a whole job: the shader ([`validate_shader`]) and the dispatch ([`check_dispatch`]).
pub fn validate_job(
    job: &JobDescriptor,
    limits: &Limits,
    caps: &Caps,
) -> Result<ShaderInfo, AbiError> {
    let info = validate_module(&job.wgsl, &job.entry_points(), limits, caps)?;
    check_dispatch(job, &info, limits, caps)?;
    Ok(info)
}

/// Parses and validates WGSL against the ABI: UTF-8, size, naga validation, the entry point
/// (exists, `@compute`), the bindings, and the workgroup size and memory within `limits`/`caps`.
pub fn validate_shader(
    wgsl: &[u8],
    entry_point: &str,
    limits: &Limits,
    caps: &Caps,
) -> Result<ShaderInfo, AbiError> {
    validate_module(wgsl, &[entry_point], limits, caps)
}

/// [`validate_shader`] for every entry point a job's passes use (parsed once). The returned
/// workgroup size is the first entry point's.
pub fn validate_module(
    wgsl: &[u8],
    entry_points: &[impl AsRef<str>],
    limits: &Limits,
    caps: &Caps,
) -> Result<ShaderInfo, AbiError> {
    if entry_points.len() > MAX_PASSES {
        return Err(AbiError::TooManyPasses {
            count: entry_points.len(),
            max: MAX_PASSES,
        });
    }
    let (max_source, source_of_limit) = tightest(&[
        (MAX_SOURCE_LEN as u64, LimitSource::Abi),
        (caps.max_source_len as u64, LimitSource::Provider),
    ]);
    if wgsl.len() as u64 > max_source {
        return Err(AbiError::SourceTooLarge {
            len: wgsl.len(),
            max: usize::try_from(max_source).unwrap_or(usize::MAX),
            source_of_limit,
        });
    }
    let source = std::str::from_utf8(wgsl).map_err(|e| AbiError::SourceNotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    if source.trim().is_empty() {
        return Err(AbiError::SourceEmpty);
    }
    for entry_point in entry_points {
        let entry_point = entry_point.as_ref();
        if entry_point.is_empty() || entry_point.len() > MAX_ENTRY_POINT_LEN {
            return Err(AbiError::EntryPointNameInvalid {
                len: entry_point.len(),
                max: MAX_ENTRY_POINT_LEN,
            });
        }
    }

    let module = naga::front::wgsl::parse_str(source).map_err(|e| AbiError::Parse {
        message: e.message().to_string(),
        location: e.location(source).map(location),
        diagnostic: e.emit_to_string(source),
    })?;
    let module_info = Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .map_err(|e| AbiError::Invalid {
            message: error_chain(e.as_inner()),
            location: e.location(source).map(location),
            diagnostic: e.emit_to_string(source),
        })?;

    if let Some((_, o)) = module.overrides.iter().next() {
        return Err(AbiError::OverridesUnsupported {
            name: o.name.clone().unwrap_or_else(|| "<unnamed>".into()),
        });
    }

    let mut workgroup_sizes = Vec::with_capacity(entry_points.len());
    for entry_point in entry_points {
        let entry_point = entry_point.as_ref();
        let ep = module
            .entry_points
            .iter()
            .find(|ep| ep.name == entry_point && ep.stage == ShaderStage::Compute)
            .or_else(|| module.entry_points.iter().find(|ep| ep.name == entry_point))
            .ok_or_else(|| AbiError::EntryPointNotFound {
                name: entry_point.to_string(),
                available: module
                    .entry_points
                    .iter()
                    .map(|ep| ep.name.clone())
                    .collect(),
            })?;
        if ep.stage != ShaderStage::Compute {
            return Err(AbiError::NotCompute {
                name: ep.name.clone(),
                stage: stage_name(ep.stage),
            });
        }
        workgroup_sizes.push(ep.workgroup_size);
    }

    let mut layouter = naga::proc::Layouter::default();
    layouter
        .update(module.to_ctx())
        .map_err(|e| AbiError::Invalid {
            message: error_chain(&e),
            location: None,
            diagnostic: e.to_string(),
        })?;
    let size_of = |ty| u64::from(layouter[ty].size);

    let bindings = check_bindings(&module, &size_of)?;

    for size in &workgroup_sizes {
        check_workgroup_size(*size, limits)?;
    }
    let workgroup_size = workgroup_sizes.first().copied().unwrap_or([1, 1, 1]);

    let workgroup_storage_bytes: u64 = module
        .global_variables
        .iter()
        .filter(|(_, g)| g.space == AddressSpace::WorkGroup)
        .map(|(_, g)| size_of(g.ty))
        .sum();
    let max_wg_storage = u64::from(limits.max_workgroup_storage_size);
    if workgroup_storage_bytes > max_wg_storage {
        return Err(AbiError::WorkgroupStorageTooLarge {
            bytes: workgroup_storage_bytes,
            max: max_wg_storage,
            source_of_limit: LimitSource::Device,
        });
    }

    // Upper bound: WGSL forbids recursion, so no invocation holds more than every private global
    // plus every function's locals at once.
    let private_memory_bytes: u64 = module
        .global_variables
        .iter()
        .filter(|(_, g)| g.space == AddressSpace::Private)
        .map(|(_, g)| size_of(g.ty))
        .chain(
            module
                .functions
                .iter()
                .map(|(_, f)| f)
                .chain(module.entry_points.iter().map(|ep| &ep.function))
                .flat_map(|f| f.local_variables.iter().map(|(_, v)| size_of(v.ty))),
        )
        .sum();
    let (max_private, source_of_limit) = tightest(&[
        (MAX_PRIVATE_MEMORY, LimitSource::Abi),
        (caps.max_private_memory, LimitSource::Provider),
    ]);
    if private_memory_bytes > max_private {
        return Err(AbiError::PrivateMemoryTooLarge {
            bytes: private_memory_bytes,
            max: max_private,
            source_of_limit,
        });
    }

    let determinism = classify(&module, &module_info);

    Ok(ShaderInfo {
        workgroup_size,
        determinism,
        declares_input: bindings.input_min_len.is_some(),
        declares_params: bindings.params_declared,
        input_min_len: bindings.input_min_len.unwrap_or(0),
        output_min_len: bindings.output_min_len,
        workgroup_storage_bytes,
        private_memory_bytes,
        scratch_min_len: bindings.scratch_min_len,
    })
}

struct Bindings {
    input_min_len: Option<u64>,
    output_min_len: u64,
    params_declared: bool,
    scratch_min_len: [Option<u64>; MAX_SCRATCH_BUFFERS],
}

fn check_bindings(
    module: &Module,
    size_of: &dyn Fn(naga::Handle<naga::Type>) -> u64,
) -> Result<Bindings, AbiError> {
    let mut seen: [Option<String>; BINDING_DECLARATIONS.len()] = Default::default();
    let mut result = Bindings {
        input_min_len: None,
        output_min_len: 0,
        params_declared: false,
        scratch_min_len: [None; MAX_SCRATCH_BUFFERS],
    };
    let mut output_declared = false;
    for (_, global) in module.global_variables.iter() {
        let name = global.name.clone().unwrap_or_else(|| "<unnamed>".into());
        match global.space {
            AddressSpace::Private | AddressSpace::WorkGroup | AddressSpace::Function => continue,
            AddressSpace::Uniform | AddressSpace::Storage { .. } | AddressSpace::Handle => {}
            other => {
                return Err(AbiError::ForbiddenAddressSpace {
                    name,
                    space: format!("{other:?}"),
                })
            }
        }
        let Some(binding) = &global.binding else {
            // naga rejects resources without a binding; be explicit anyway.
            return Err(AbiError::ForbiddenAddressSpace {
                name,
                space: format!("{:?} without @binding", global.space),
            });
        };
        let index = binding.binding as usize;
        if binding.group != BIND_GROUP || index >= seen.len() {
            return Err(AbiError::UnexpectedBinding {
                name,
                group: binding.group,
                binding: binding.binding,
            });
        }
        if let Some(first) = seen[index].take() {
            return Err(AbiError::DuplicateBinding {
                binding: binding.binding,
                first,
                second: name,
            });
        }
        seen[index] = Some(name.clone());

        let size = size_of(global.ty);
        let is_handle = matches!(
            module.types[global.ty].inner,
            TypeInner::Image { .. }
                | TypeInner::Sampler { .. }
                | TypeInner::AccelerationStructure { .. }
        );
        let wrong = || AbiError::WrongBindingType {
            name: name.clone(),
            binding: binding.binding,
            expected: BINDING_DECLARATIONS[index],
            found: space_name(global.space),
        };
        let (read_only, writable, uniform) = match global.space {
            AddressSpace::Storage { access } => (
                !access.contains(StorageAccess::STORE),
                access.contains(StorageAccess::STORE),
                false,
            ),
            AddressSpace::Uniform if !is_handle => (false, false, true),
            _ => (false, false, false),
        };
        match binding.binding {
            BINDING_INPUT if read_only => result.input_min_len = Some(size),
            BINDING_OUTPUT if writable => {
                output_declared = true;
                result.output_min_len = size;
            }
            BINDING_PARAMS if uniform => {
                if size > PARAMS_LEN as u64 {
                    return Err(AbiError::ParamsTooLarge {
                        size,
                        max: PARAMS_LEN as u64,
                    });
                }
                result.params_declared = true;
            }
            BINDING_PASS if uniform => {
                if size > PASS_INFO_LEN as u64 {
                    return Err(AbiError::PassInfoTooLarge {
                        size,
                        max: PASS_INFO_LEN as u64,
                    });
                }
            }
            b if b >= BINDING_SCRATCH && writable => {
                result.scratch_min_len[(b - BINDING_SCRATCH) as usize] = Some(size);
            }
            _ => return Err(wrong()),
        }
    }
    if !output_declared {
        return Err(AbiError::MissingOutputBinding);
    }
    Ok(result)
}

fn check_workgroup_size(size: [u32; 3], limits: &Limits) -> Result<(), AbiError> {
    for ((axis, &s), &max) in ['x', 'y', 'z']
        .into_iter()
        .zip(&size)
        .zip(&limits.max_workgroup_size)
    {
        if s > max {
            return Err(AbiError::WorkgroupSizeTooLarge {
                axis,
                size: s,
                max,
                source_of_limit: LimitSource::Device,
            });
        }
    }
    let invocations: u64 = size.iter().map(|&s| u64::from(s)).product();
    if invocations > u64::from(limits.max_invocations_per_workgroup) {
        return Err(AbiError::TooManyInvocations {
            invocations,
            max: limits.max_invocations_per_workgroup,
            source_of_limit: LimitSource::Device,
        });
    }
    Ok(())
}

/// Float if any type, expression or constant anywhere in the module is floating point. Looking
/// at the whole module (not only what the entry point reaches) errs on the side of `Float`.
fn classify(module: &Module, info: &ModuleInfo) -> DeterminismClass {
    let is_float = |kind: ScalarKind| matches!(kind, ScalarKind::Float | ScalarKind::AbstractFloat);
    let inner_is_float = |inner: &TypeInner| match *inner {
        TypeInner::ValuePointer { scalar, .. } | TypeInner::Atomic(scalar) => is_float(scalar.kind),
        ref other => other.scalar_kind().is_some_and(is_float),
    };

    let types_float = module.types.iter().any(|(_, ty)| inner_is_float(&ty.inner));
    let constants_float = module
        .global_expressions
        .iter()
        .any(|(_, e)| matches!(e, naga::Expression::Literal(lit) if is_float(lit.scalar_kind())));
    let functions_float = module
        .functions
        .iter()
        .map(|(handle, f)| (f, &info[handle]))
        .chain(
            module
                .entry_points
                .iter()
                .enumerate()
                .map(|(i, ep)| (&ep.function, info.get_entry_point(i))),
        )
        .any(|(function, finfo)| {
            function
                .expressions
                .iter()
                .any(|(handle, _)| inner_is_float(finfo[handle].ty.inner_with(&module.types)))
        });
    if types_float || constants_float || functions_float {
        DeterminismClass::Float
    } else {
        DeterminismClass::Exact
    }
}

fn location(l: naga::SourceLocation) -> Location {
    Location {
        line: l.line_number,
        column: l.line_position,
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

fn stage_name(stage: ShaderStage) -> String {
    match stage {
        ShaderStage::Vertex => "vertex".into(),
        ShaderStage::Fragment => "fragment".into(),
        ShaderStage::Compute => "compute".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn space_name(space: AddressSpace) -> String {
    match space {
        AddressSpace::Uniform => "var<uniform>".into(),
        AddressSpace::Storage { access } if access.contains(StorageAccess::STORE) => {
            "var<storage, read_write>".into()
        }
        AddressSpace::Storage { .. } => "var<storage, read>".into(),
        AddressSpace::Handle => "a texture/sampler handle".into(),
        other => format!("{other:?}"),
    }
}

mod dispatch;
#[cfg(test)]
mod tests;

pub use dispatch::check_dispatch;
