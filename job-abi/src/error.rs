//! Every way a job can violate the ABI, each with a message a job author can act on.

use crate::abi::LimitSource;

/// A position in the WGSL source (1-based line and column; the column counts bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Location {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in bytes.
    pub column: u32,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Renders an optional location as ` at line:col` for messages.
pub(crate) struct At(pub Option<Location>);

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(location) => write!(f, " at {location}"),
            None => Ok(()),
        }
    }
}

/// `&'static str`, named so that serde's derive does not borrow it from the input (a `&'static`
/// borrow cannot outlive a message read at run time); `wire::binding_declaration` maps the text
/// back to the ABI's own constant instead.
type Declaration = &'static str;

/// Why a job was rejected before it reached a device.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum AbiError {
    /// The source has no non-whitespace content.
    #[error("the WGSL source is empty")]
    SourceEmpty,
    /// The source is longer than allowed.
    #[error("the WGSL source is {len} bytes; the {source_of_limit} is {max}")]
    SourceTooLarge {
        /// Source length in bytes.
        len: usize,
        /// Largest allowed length.
        max: usize,
        /// Which bound applied.
        source_of_limit: LimitSource,
    },
    /// The source is not valid UTF-8.
    #[error("the WGSL source is not valid UTF-8 (first invalid byte at offset {valid_up_to})")]
    SourceNotUtf8 {
        /// Length of the valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// naga could not parse the WGSL.
    #[error("WGSL parse error{}: {message}", At(*location))]
    Parse {
        /// naga's message.
        message: String,
        /// Where the error is.
        location: Option<Location>,
        /// naga's full diagnostic with the source excerpt.
        diagnostic: String,
    },
    /// The WGSL parsed but is not a valid module (types, uniformity, ...).
    #[error("invalid WGSL{}: {message}", At(*location))]
    Invalid {
        /// naga's message.
        message: String,
        /// Where the error is, if known.
        location: Option<Location>,
        /// naga's full diagnostic with the source excerpt.
        diagnostic: String,
    },
    /// The entry-point name is empty or too long.
    #[error("the entry-point name must be 1..={max} bytes, got {len}")]
    EntryPointNameInvalid {
        /// Name length in bytes.
        len: usize,
        /// Longest allowed name.
        max: usize,
    },
    /// No function of that name is an entry point.
    #[error("no entry point named `{name}` (entry points: {available:?})")]
    EntryPointNotFound {
        /// The requested name.
        name: String,
        /// The module's entry points.
        available: Vec<String>,
    },
    /// The entry point exists but is not `@compute`.
    #[error("entry point `{name}` is a {stage} shader; jobs must use a @compute entry point")]
    NotCompute {
        /// The entry point.
        name: String,
        /// Its stage (`vertex`, `fragment`, ...).
        stage: String,
    },
    /// The shader uses `override` declarations, which the ABI has no way to set.
    #[error("`override` declarations are not supported by the job ABI (found `{name}`)")]
    OverridesUnsupported {
        /// The first override's name.
        name: String,
    },
    /// A resource is bound outside the ABI's three bindings.
    #[error(
        "`{name}` is bound at @group({group}) @binding({binding}); only @group(0) bindings 0 (input), 1 (output) and 2 (params) are allowed"
    )]
    UnexpectedBinding {
        /// The variable.
        name: String,
        /// Its group.
        group: u32,
        /// Its binding.
        binding: u32,
    },
    /// A global variable lives in an address space the ABI does not provide.
    #[error("`{name}` uses address space {space}, which the job ABI does not provide")]
    ForbiddenAddressSpace {
        /// The variable.
        name: String,
        /// The address space.
        space: String,
    },
    /// Two variables share one binding.
    #[error("@group(0) @binding({binding}) is declared twice (`{first}` and `{second}`)")]
    DuplicateBinding {
        /// The binding.
        binding: u32,
        /// First variable.
        first: String,
        /// Second variable.
        second: String,
    },
    /// A binding has the wrong address space or access mode.
    #[error("`{name}` at @binding({binding}) must be {expected}, found {found}")]
    WrongBindingType {
        /// The variable.
        name: String,
        /// The binding.
        binding: u32,
        /// What the ABI requires.
        #[cfg_attr(
            feature = "serde",
            serde(deserialize_with = "wire::binding_declaration")
        )]
        expected: Declaration,
        /// What the shader declares.
        found: String,
    },
    /// The shader declares no output binding.
    #[error(
        "the shader declares no output: @group(0) @binding(1) var<storage, read_write> is required"
    )]
    MissingOutputBinding,
    /// The uniform type is larger than the parameter block.
    #[error("the params type is {size} bytes; the parameter block is {max} bytes")]
    ParamsTooLarge {
        /// Size of the shader's uniform type.
        size: u64,
        /// [`crate::PARAMS_LEN`].
        max: u64,
    },
    /// One axis of `@workgroup_size` is too large.
    #[error("@workgroup_size {axis} = {size} exceeds the {source_of_limit} of {max}")]
    WorkgroupSizeTooLarge {
        /// `x`, `y` or `z`.
        axis: char,
        /// The size on that axis.
        size: u32,
        /// The limit.
        max: u32,
        /// Which bound applied.
        source_of_limit: LimitSource,
    },
    /// The workgroup has too many invocations in total.
    #[error("@workgroup_size has {invocations} invocations; the {source_of_limit} is {max}")]
    TooManyInvocations {
        /// x * y * z.
        invocations: u64,
        /// The limit.
        max: u32,
        /// Which bound applied.
        source_of_limit: LimitSource,
    },
    /// `var<workgroup>` memory exceeds the device limit.
    #[error("the shader uses {bytes} bytes of workgroup memory; the {source_of_limit} is {max}")]
    WorkgroupStorageTooLarge {
        /// Bytes declared.
        bytes: u64,
        /// The limit.
        max: u64,
        /// Which bound applied.
        source_of_limit: LimitSource,
    },
    /// Private and function-local memory per invocation exceeds the cap.
    #[error(
        "the shader uses {bytes} bytes of private/function memory per invocation; the {source_of_limit} is {max}"
    )]
    PrivateMemoryTooLarge {
        /// Bytes declared (largest function's locals plus private globals).
        bytes: u64,
        /// The limit.
        max: u64,
        /// Which bound applied.
        source_of_limit: LimitSource,
    },
    /// A workgroup count is zero.
    #[error("workgroup count {axis} is 0; every dimension must be at least 1")]
    WorkgroupCountZero {
        /// `x`, `y` or `z`.
        axis: char,
    },
    /// A workgroup count exceeds the per-dimension limit.
    #[error("workgroup count {axis} = {count} exceeds the {source_of_limit} of {max}")]
    WorkgroupCountTooLarge {
        /// `x`, `y` or `z`.
        axis: char,
        /// The count.
        count: u32,
        /// The limit.
        max: u32,
        /// Which bound applied.
        source_of_limit: LimitSource,
    },
    /// The dispatch has too many workgroups in total.
    #[error("the dispatch has {total} workgroups; the {source_of_limit} is {max}")]
    TooManyWorkgroups {
        /// x * y * z.
        total: u64,
        /// The limit.
        max: u64,
        /// Which bound applied.
        source_of_limit: LimitSource,
    },
    /// The input is larger than allowed.
    #[error("the input is {len} bytes; the {source_of_limit} is {max}")]
    InputTooLarge {
        /// Input length.
        len: u64,
        /// The limit.
        max: u64,
        /// Which bound applied.
        source_of_limit: LimitSource,
    },
    /// The input length is not a multiple of 4.
    #[error("the input is {len} bytes; its length must be a multiple of 4")]
    InputNotAligned {
        /// Input length.
        len: u64,
    },
    /// The input is shorter than the shader's input type.
    #[error("the input is {len} bytes but the shader's input type needs at least {min}")]
    InputTooShort {
        /// Input length (as bound; an empty input is bound as 4 bytes).
        len: u64,
        /// Minimum size of the shader's input type.
        min: u64,
    },
    /// The output length is zero.
    #[error("the output length is 0; a job must produce at least 4 bytes")]
    OutputEmpty,
    /// The output is larger than allowed.
    #[error("the output is {len} bytes; the {source_of_limit} is {max}")]
    OutputTooLarge {
        /// Output length.
        len: u64,
        /// The limit.
        max: u64,
        /// Which bound applied.
        source_of_limit: LimitSource,
    },
    /// The output length is not a multiple of 4.
    #[error("the output is {len} bytes; its length must be a multiple of 4")]
    OutputNotAligned {
        /// Output length.
        len: u64,
    },
    /// The output is shorter than the shader's output type.
    #[error("the output is {len} bytes but the shader's output type needs at least {min}")]
    OutputTooShort {
        /// Output length.
        len: u64,
        /// Minimum size of the shader's output type.
        min: u64,
    },
    /// A manifest blob is not a well-formed ABI v2 manifest.
    #[error("invalid job manifest: {message}")]
    ManifestInvalid {
        /// What is wrong.
        message: String,
    },
    /// The on-chain entry point and workgroups are not the manifest's first pass's.
    #[error("the job names entry point `{entry_point}` over {workgroups:?} but its manifest starts with `{first_entry_point}` over {first_workgroups:?}")]
    ManifestMismatch {
        /// On-chain entry point.
        entry_point: String,
        /// On-chain workgroups.
        workgroups: [u32; 3],
        /// The manifest's first pass's entry point.
        first_entry_point: String,
        /// The manifest's first pass's workgroups.
        first_workgroups: [u32; 3],
    },
    /// A manifest has more passes than the ABI allows.
    #[error("the manifest has {count} passes; at most {max}")]
    TooManyPasses {
        /// Passes in the manifest.
        count: usize,
        /// [`crate::MAX_PASSES`].
        max: usize,
    },
    /// A pass repeats zero times.
    #[error("a pass's repeat count must be at least 1")]
    RepeatZero,
    /// The job makes more dispatches than allowed.
    #[error("the job makes {count} dispatches; the {source_of_limit} is {max}")]
    TooManyDispatches {
        /// Every pass's repeat count, summed.
        count: u64,
        /// Most allowed.
        max: u64,
        /// Which bound applied.
        source_of_limit: LimitSource,
    },
    /// More scratch buffers than bindings 4…7.
    #[error("the manifest asks for {count} scratch buffers; at most {max}")]
    TooManyScratchBuffers {
        /// Scratch buffers asked for.
        count: usize,
        /// [`crate::MAX_SCRATCH_BUFFERS`].
        max: usize,
    },
    /// A scratch buffer's size is zero or not a multiple of 4.
    #[error("scratch buffer {index} is {len} bytes; it must be a positive multiple of 4")]
    ScratchInvalid {
        /// Index of the scratch buffer.
        index: usize,
        /// Its size.
        len: u64,
    },
    /// A scratch buffer is larger than a storage binding may be.
    #[error("scratch buffer {index} is {len} bytes; the {source_of_limit} is {max}")]
    ScratchTooLarge {
        /// Index of the scratch buffer.
        index: usize,
        /// Its size.
        len: u64,
        /// Largest allowed.
        max: u64,
        /// Which bound applied.
        source_of_limit: LimitSource,
    },
    /// The shader declares a scratch binding the job does not provide.
    #[error("the shader declares scratch buffer {index} (binding {binding}) but the job has {available} scratch buffers")]
    ScratchMissing {
        /// Index of the scratch buffer.
        index: usize,
        /// Its binding.
        binding: u32,
        /// Scratch buffers the job provides.
        available: usize,
    },
    /// A scratch buffer is smaller than the shader's type for it.
    #[error("scratch buffer {index} is {len} bytes but the shader's type needs at least {min}")]
    ScratchTooShort {
        /// Index of the scratch buffer.
        index: usize,
        /// Its size.
        len: u64,
        /// Minimum size of the shader's type.
        min: u64,
    },
    /// The job's buffers together take more memory than allowed.
    #[error("the job's buffers take {bytes} bytes together; the {source_of_limit} is {max}")]
    JobMemoryTooLarge {
        /// Input, output and scratch, summed.
        bytes: u64,
        /// Most allowed.
        max: u64,
        /// Which bound applied.
        source_of_limit: LimitSource,
    },
    /// The pass block's type is larger than the block.
    #[error("the pass block's type (binding 3) is {size} bytes; the block is {max}")]
    PassInfoTooLarge {
        /// Size of the shader's type.
        size: u64,
        /// [`crate::PASS_INFO_LEN`].
        max: u64,
    },
    /// An error about one pass of a manifest.
    #[error("pass {pass} (`{entry_point}`): {error}")]
    InPass {
        /// Index of the pass.
        pass: usize,
        /// Its entry point.
        entry_point: String,
        /// What is wrong with it.
        error: Box<AbiError>,
    },
}

#[cfg(feature = "serde")]
mod wire {
    use serde::{Deserialize, Deserializer};

    use crate::abi::BINDING_DECLARATIONS;

    /// `WrongBindingType::expected` is one of the ABI's own declarations: map the text back to it.
    pub(super) fn binding_declaration<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<&'static str, D::Error> {
        let text = String::deserialize(d)?;
        BINDING_DECLARATIONS
            .iter()
            .find(|declaration| **declaration == text)
            .copied()
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{text:?} is not a binding declaration of the ABI"
                ))
            })
    }
}

impl AbiError {
    /// The bound a size or count exceeded, for the errors that are about a limit: a device with
    /// larger limits (or a provider with larger caps) might accept the job. `None` for errors of
    /// the shader or the job itself, which no device accepts.
    pub fn limit_source(&self) -> Option<LimitSource> {
        match self {
            AbiError::SourceTooLarge {
                source_of_limit, ..
            }
            | AbiError::WorkgroupSizeTooLarge {
                source_of_limit, ..
            }
            | AbiError::TooManyInvocations {
                source_of_limit, ..
            }
            | AbiError::WorkgroupStorageTooLarge {
                source_of_limit, ..
            }
            | AbiError::PrivateMemoryTooLarge {
                source_of_limit, ..
            }
            | AbiError::WorkgroupCountTooLarge {
                source_of_limit, ..
            }
            | AbiError::TooManyWorkgroups {
                source_of_limit, ..
            }
            | AbiError::InputTooLarge {
                source_of_limit, ..
            }
            | AbiError::OutputTooLarge {
                source_of_limit, ..
            }
            | AbiError::TooManyDispatches {
                source_of_limit, ..
            }
            | AbiError::ScratchTooLarge {
                source_of_limit, ..
            }
            | AbiError::JobMemoryTooLarge {
                source_of_limit, ..
            } => Some(*source_of_limit),
            AbiError::InPass { error, .. } => error.limit_source(),
            _ => None,
        }
    }
}
