//! Loading settings: the TOML file and the `COMPUTE_MARKET__*` variables layered over the defaults
//! with [`figment`], then `~/` expansion and [validation](Settings::validate).
//!
//! Figment merges the layers and deserializes the result, and its errors say which layer (the
//! file or one variable) and which key a bad value came from. What is ours: the two layers (the
//! file read with the workspace's `toml` crate; one layer per variable, so that errors name it,
//! from an environment that tests can pass in) and [`list`], which lets a list key come from the
//! environment as a comma-separated string.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use figment::error::{Actual, Kind, OneOf};
use figment::value::{Dict, Empty, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, SeqAccess, Visitor};

use super::validate::origin_of;
use super::{Settings, SettingsError, ENV_PREFIX};

impl Settings {
    /// Loads the settings: defaults, then the TOML file at `path` (if given; it must exist), then
    /// the `COMPUTE_MARKET__*` environment variables; expands `~/` in paths and
    /// [validates](Settings::validate) the result.
    pub fn load(path: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load_from(path, std::env::vars_os())
    }

    /// [`Settings::load`] with the environment given explicitly (tests, or a caller that filtered
    /// it). Variables without the `COMPUTE_MARKET__` prefix are ignored.
    pub fn load_from<I>(path: Option<&Path>, env: I) -> Result<Settings, SettingsError>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        let mut figment = Figment::new();
        if let Some(path) = path {
            figment = figment.merge(FileLayer::read(path)?);
        }
        for var in env_layers(env)? {
            figment = figment.merge(var);
        }
        let mut settings = extract(&figment, path)?;
        settings.source = path.map(Path::to_path_buf);
        settings.keypair_path = expand_home(&settings.keypair_path);
        settings.state_path = expand_home(&settings.state_path);
        for root in &mut settings.fetch.file_roots {
            *root = expand_home(root);
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Parses settings from TOML text alone (no environment, no `~` expansion, no validation);
    /// `path` is only used in error messages.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Settings, SettingsError> {
        let figment = Figment::from(FileLayer::parse(path, text)?);
        let mut settings = extract(&figment, Some(path))?;
        settings.source = Some(path.to_path_buf());
        Ok(settings)
    }
}

/// Every key, dotted for section keys (`gpu.workers`), as the settings structs define them; for
/// docs and tests.
pub fn known_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    if let Ok(Value::Dict(_, top)) = Value::serialize(Settings::default()) {
        for (key, value) in top {
            match value {
                Value::Dict(_, section) => {
                    keys.extend(section.into_keys().map(|inner| format!("{key}.{inner}")));
                }
                _ => {
                    keys.insert(key);
                }
            }
        }
    }
    keys
}

/// The settings file as a figment layer: parsed here, so that a syntax error has its line.
struct FileLayer {
    path: PathBuf,
    data: Dict,
}

impl FileLayer {
    fn read(path: &Path) -> Result<FileLayer, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                SettingsError::FileNotFound {
                    path: path.to_path_buf(),
                }
            } else {
                SettingsError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        FileLayer::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<FileLayer, SettingsError> {
        let data = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            SettingsError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        Ok(FileLayer {
            path: path.to_path_buf(),
            data,
        })
    }
}

impl Provider for FileLayer {
    fn metadata(&self) -> Metadata {
        Metadata::from("settings file", self.path.as_path())
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Ok(Profile::Default.collect(self.data.clone()))
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// One `COMPUTE_MARKET__…` variable as a figment layer. The name after the prefix, split at `__`
/// and lowercased, is the key; the value stays a string (figment reads it as the key's type), and
/// an empty one is no value.
struct EnvLayer {
    var: String,
    key: Vec<String>,
    value: String,
}

/// The `COMPUTE_MARKET__*` variables, sorted so that the outcome does not depend on the
/// environment's order.
fn env_layers<I>(env: I) -> Result<Vec<EnvLayer>, SettingsError>
where
    I: IntoIterator<Item = (OsString, OsString)>,
{
    let mut vars: Vec<(String, OsString)> = env
        .into_iter()
        .filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            name.starts_with(ENV_PREFIX).then_some((name, value))
        })
        .collect();
    vars.sort();
    vars.into_iter()
        .map(|(var, value)| {
            let key: Vec<String> = var[ENV_PREFIX.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            let value = value
                .into_string()
                .map_err(|_| SettingsError::InvalidValue {
                    origin: format!("environment variable {var}"),
                    key: key.join("."),
                    message: "the value is not valid UTF-8".to_string(),
                })?;
            Ok(EnvLayer { var, key, value })
        })
        .collect()
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::from("environment variable", Source::Custom(self.var.clone()))
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        let value = self.value.trim();
        let leaf = if value.is_empty() {
            Value::from(Empty::None)
        } else {
            Value::from(value)
        };
        let nested = self.key.iter().rev().fold(leaf, |value, key| {
            Value::from(Dict::from([(key.clone(), value)]))
        });
        Ok(Profile::Default.collect(nested.into_dict().unwrap_or_default()))
    }
}

/// Deserializes the merged layers. Lossy: strings from the environment are read as numbers and
/// booleans where the key wants one.
fn extract(figment: &Figment, path: Option<&Path>) -> Result<Settings, SettingsError> {
    figment.extract_lossy().map_err(|e| {
        let origin = match e.metadata.as_ref().and_then(|m| m.source.as_ref()) {
            Some(Source::File(file)) => format!("settings file {}", file.display()),
            Some(Source::Custom(var)) => format!("environment variable {var}"),
            _ => origin_of(path),
        };
        let key = dotted(&e.path);
        match e.kind {
            Kind::UnknownField(_, expected) => {
                let section = dotted(&e.path[..e.path.len().saturating_sub(1)]);
                let known = if section.is_empty() {
                    format!("known keys and sections: {}", expected.join(", "))
                } else {
                    format!("known keys in [{section}]: {}", expected.join(", "))
                };
                SettingsError::UnknownKey { origin, key, known }
            }
            kind => SettingsError::InvalidValue {
                origin,
                key,
                message: match kind {
                    Kind::InvalidType(Actual::Option, expected) => format!(
                        "an empty value only clears an optional key or a list: give {expected}"
                    ),
                    Kind::UnknownVariant(found, expected) => {
                        format!("unknown value `{found}`: expected {}", OneOf(expected))
                    }
                    other => other.to_string(),
                },
            },
        }
    })
}

/// A figment key path as written in messages: `gpu.workers`, `fetch.schemes[1]`.
fn dotted(path: &[String]) -> String {
    let mut key = String::new();
    for part in path {
        if !key.is_empty() && !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            key.push_str(&format!("[{part}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(part);
        }
    }
    key
}

/// `deserialize_with` for list keys: a list (the file), a comma-separated string (the
/// environment; blanks around entries are ignored) or no value (an empty variable: no entries).
pub(super) fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    struct List<T>(PhantomData<T>);

    impl<'de, T: DeserializeOwned> Visitor<'de> for List<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list, or a comma-separated string")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element()? {
                items.push(item);
            }
            Ok(items)
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Vec<T>, E> {
            value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| T::deserialize(item.into_deserializer()))
                .collect()
        }

        fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
    }

    deserializer.deserialize_any(List(PhantomData))
}

/// Expands a leading `~/` (or a lone `~`) to `$HOME`; other paths are returned unchanged.
pub(super) fn expand_home(path: &Path) -> PathBuf {
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        return path.to_path_buf();
    };
    match path.strip_prefix("~") {
        Ok(rest) if rest.as_os_str().is_empty() => PathBuf::from(home),
        Ok(rest) => PathBuf::from(home).join(rest),
        Err(_) => path.to_path_buf(),
    }
}
