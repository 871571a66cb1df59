//! Which codec serves which model: routing is data (the prefixes each codec reports), not a
//! host `match`. The longest matching prefix wins; a codec file beats a built-in for the
//! same prefix; two files claiming the same prefix is a load error naming both.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::loaded::{Codec, CodecSource};
use super::model_id::{BaseModel, base_model};

/// An immutable routing table. Hot-swap builds a new one and swaps it in whole.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    codecs: Vec<Arc<Codec>>,
    /// prefix → the codec serving it.
    routes: BTreeMap<String, Arc<Codec>>,
    /// Codec files removed from the codecs directory, so a model left without a codec is told
    /// which prefix (or pinned name) went missing.
    removed: Vec<Removed>,
}

/// A codec that served from a file that is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub name: String,
    pub prefixes: Vec<String>,
    /// Where it was loaded from.
    pub source: String,
}

/// The codec chosen for a model, and the base model id it is called with.
#[derive(Debug, Clone)]
pub struct Route {
    pub codec: Arc<Codec>,
    pub base_model_id: String,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RouteError {
    #[error(
        "no codec serves model {model_id:?} (base model {base:?}); served prefixes: {served}. \
         Add a codec .wasm for it to the codecs directory, or pin one with `params.codec`"
    )]
    NoCodec {
        model_id: String,
        base: String,
        served: String,
    },
    #[error(
        "model {model_id:?} is a {resource_type} ARN, which does not say which model it runs: \
         name it with `params.base_model` (e.g. amazon.titan-embed-text-v2:0), or pin a codec \
         with `params.codec` (available: {available})"
    )]
    Opaque {
        model_id: String,
        resource_type: String,
        available: String,
    },
    #[error("params.codec is {name:?}, but no codec has that name (available: {available})")]
    UnknownCodec { name: String, available: String },
    /// The codec that served the model's prefix was removed and nothing else serves it.
    #[error(
        "no codec serves the model prefix {prefix:?} of model {model_id:?} any more: codec \
         {codec} ({source_desc}) was removed from the codecs directory and no other codec claims \
         {prefix}*; put a codec for it back in the codecs directory"
    )]
    RemovedPrefix {
        model_id: String,
        prefix: String,
        codec: String,
        source_desc: String,
    },
    /// The codec a model is pinned to (`params.codec`) was removed.
    #[error(
        "params.codec is {name:?}, but that codec ({source_desc}, prefixes {prefixes}) was \
         removed from the codecs directory; put it back (available: {available})"
    )]
    RemovedCodec {
        name: String,
        source_desc: String,
        prefixes: String,
        available: String,
    },
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("codecs {first} and {second} both claim the model prefix {prefix:?}; remove one of them")]
pub struct ConflictError {
    pub prefix: String,
    pub first: String,
    pub second: String,
}

impl Registry {
    /// Builds the table. Files override built-ins prefix by prefix; two codecs of the same kind
    /// (two files, or two built-ins) claiming one prefix is an error.
    pub fn new(codecs: Vec<Arc<Codec>>) -> Result<Self, ConflictError> {
        let mut routes: BTreeMap<String, Arc<Codec>> = BTreeMap::new();
        for codec in &codecs {
            for prefix in &codec.info().model_prefixes {
                match routes.get(prefix) {
                    None => {}
                    Some(held) if is_file(held) == is_file(codec) => {
                        return Err(ConflictError {
                            prefix: prefix.clone(),
                            first: describe(held),
                            second: describe(codec),
                        });
                    }
                    // A built-in never displaces a file.
                    Some(held) if is_file(held) => continue,
                    Some(_) => {}
                }
                routes.insert(prefix.clone(), codec.clone());
            }
        }
        Ok(Self {
            codecs,
            routes,
            removed: Vec::new(),
        })
    }

    /// The same table, remembering codecs removed from the codecs directory (for the errors
    /// of the models they served).
    pub fn with_removed(mut self, removed: Vec<Removed>) -> Self {
        self.removed = removed;
        self
    }

    pub fn removed(&self) -> &[Removed] {
        &self.removed
    }

    pub fn codecs(&self) -> &[Arc<Codec>] {
        &self.codecs
    }

    /// prefix → codec, for listings.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &Arc<Codec>)> {
        self.routes.iter().map(|(p, c)| (p.as_str(), c))
    }

    /// The codec that serves `model_id`, or the one `pinned` names.
    pub fn route(&self, model_id: &str, pinned: Option<&str>) -> Result<Route, RouteError> {
        let base = base_model(model_id);
        if let Some(name) = pinned {
            let codec = self.by_name(name).ok_or_else(|| {
                match self.removed.iter().find(|r| r.name == name) {
                    Some(gone) => RouteError::RemovedCodec {
                        name: name.to_string(),
                        source_desc: gone.source.clone(),
                        prefixes: gone.prefixes.join(", "),
                        available: self.names(),
                    },
                    None => RouteError::UnknownCodec {
                        name: name.to_string(),
                        available: self.names(),
                    },
                }
            })?;
            let base_model_id = match base {
                BaseModel::Known(id) => id,
                BaseModel::Opaque { .. } => model_id.to_string(),
            };
            return Ok(Route {
                codec,
                base_model_id,
            });
        }
        let base = match base {
            BaseModel::Known(id) => id,
            BaseModel::Opaque { resource_type } => {
                return Err(RouteError::Opaque {
                    model_id: model_id.to_string(),
                    resource_type,
                    available: self.names(),
                });
            }
        };
        self.routes
            .iter()
            .filter(|(prefix, _)| base.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, codec)| Route {
                codec: codec.clone(),
                base_model_id: base.clone(),
            })
            .ok_or_else(|| self.no_codec(model_id, base))
    }

    /// The codec serving a name; a file beats a built-in of the same name.
    pub fn by_name(&self, name: &str) -> Option<Arc<Codec>> {
        let mut matching = self.codecs.iter().filter(|c| c.name() == name);
        let first = matching.next()?;
        Some(matching.find(|c| is_file(c)).unwrap_or(first).clone())
    }

    fn no_codec(&self, model_id: &str, base: String) -> RouteError {
        let gone = self
            .removed
            .iter()
            .flat_map(|r| r.prefixes.iter().map(move |p| (p, r)))
            .filter(|(p, _)| base.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len());
        match gone {
            Some((prefix, codec)) => RouteError::RemovedPrefix {
                model_id: model_id.to_string(),
                prefix: prefix.clone(),
                codec: codec.name.clone(),
                source_desc: codec.source.clone(),
            },
            None => RouteError::NoCodec {
                model_id: model_id.to_string(),
                served: self.served(),
                base,
            },
        }
    }

    fn names(&self) -> String {
        let names: Vec<&str> = self.codecs.iter().map(|c| c.name()).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    fn served(&self) -> String {
        if self.routes.is_empty() {
            return "none".into();
        }
        self.routes
            .keys()
            .map(|p| format!("{p}*"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn is_file(codec: &Codec) -> bool {
    matches!(codec.source(), CodecSource::File(_))
}

fn describe(codec: &Codec) -> String {
    format!("{} ({})", codec.name(), codec.source())
}
