//! One `embeddings:` entry: its keys, `name`, `from` and the shape of `params`.

use serde_yaml::Value;

use super::error::{EntryRef, Problem, ProblemKind, q};
use super::{Cx, ENTRY_KEYS, EmbeddingModel, HOST_PARAMS, did_you_mean, scalar_text};

impl Cx<'_> {
    pub(super) fn entry(
        &mut self,
        index: usize,
        v: &Value,
        line: Option<usize>,
        block: bool,
    ) -> Option<EmbeddingModel> {
        let Value::Mapping(map) = v else {
            let p = Problem::new(
                ProblemKind::EntryNotAMapping,
                "must be a mapping with `from: bedrock:<model-id>`, `name` and `params`",
            )
            .at(line)
            .entry(&EntryRef { index, name: None });
            self.err(p);
            return None;
        };
        let name = map
            .get("name")
            .and_then(|v| scalar_text(v).ok())
            .filter(|n| !n.trim().is_empty());
        let er = EntryRef {
            index,
            name: name.clone(),
        };
        let key_line = |cx: &Self, key: &str| {
            if block {
                cx.loc.entry_key(index, key)
            } else {
                None
            }
            .or(line)
        };
        let before = self.problems.len();

        for key in map.keys() {
            let k = key
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{key:?}"));
            if ENTRY_KEYS.contains(&k.as_str()) {
                continue;
            }
            let hint = match did_you_mean(&k, ENTRY_KEYS.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? (allowed: {})", ENTRY_KEYS.join(", ")),
                None if HOST_PARAMS.contains(&k.as_str()) || k.starts_with("aws_") => {
                    format!(
                        "move it under `params:` (allowed here: {})",
                        ENTRY_KEYS.join(", ")
                    )
                }
                None => format!("allowed: {}", ENTRY_KEYS.join(", ")),
            };
            let p = Problem::new(ProblemKind::UnknownEntryKey, format!("unknown key: {hint}"))
                .at(key_line(self, &k))
                .entry(&er)
                .key(k.clone())
                .value(k);
            self.err(p);
        }

        // name
        match map.get("name") {
            None => self.err(
                Problem::new(
                    ProblemKind::MissingName,
                    "is missing: add `name: <model name clients use>`",
                )
                .at(line)
                .entry(&er)
                .key("name"),
            ),
            Some(v) => match scalar_text(v) {
                Ok(n) if n.trim().is_empty() => self.err(
                    Problem::new(
                        ProblemKind::BadName,
                        "is empty: name the model clients will ask for",
                    )
                    .at(key_line(self, "name"))
                    .entry(&er)
                    .key("name"),
                ),
                Ok(n) if n.chars().any(char::is_control) || n.trim() != n => self.err(
                    Problem::new(
                        ProblemKind::BadName,
                        format!(
                            "{} has leading/trailing spaces or control characters: remove them",
                            q(&n)
                        ),
                    )
                    .at(key_line(self, "name"))
                    .entry(&er)
                    .key("name")
                    .value(n),
                ),
                Ok(_) => {}
                Err(why) => self.err(
                    Problem::new(ProblemKind::BadName, why)
                        .at(key_line(self, "name"))
                        .entry(&er)
                        .key("name"),
                ),
            },
        }

        // description
        if let Some(v) = map.get("description")
            && let Err(why) = scalar_text(v)
            && !v.is_null()
        {
            self.err(
                Problem::new(ProblemKind::BadDescription, why)
                    .at(key_line(self, "description"))
                    .entry(&er)
                    .key("description"),
            );
        }

        // from
        let model_id = match map.get("from") {
            None => {
                self.err(
                    Problem::new(
                        ProblemKind::MissingFrom,
                        "is missing: add `from: bedrock:<model-id>`",
                    )
                    .at(line)
                    .entry(&er)
                    .key("from"),
                );
                None
            }
            Some(Value::String(from)) => self.from(from, &er, key_line(self, "from")),
            Some(other) => {
                let why = scalar_text(other).err().unwrap_or("must be a string");
                self.err(
                    Problem::new(
                        ProblemKind::BadFrom,
                        format!("{why}; write `from: bedrock:<model-id>`"),
                    )
                    .at(key_line(self, "from"))
                    .entry(&er)
                    .key("from"),
                );
                None
            }
        };

        // params
        let params = match map.get("params") {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(Value::Mapping(m)) => {
                let mut out = Vec::new();
                for (k, v) in m {
                    let Some(k) = k.as_str() else {
                        self.err(
                            Problem::new(
                                ProblemKind::BadParamKey,
                                format!("param name {k:?} is not a string"),
                            )
                            .at(key_line(self, "params"))
                            .entry(&er)
                            .key("params"),
                        );
                        continue;
                    };
                    let pline = if block {
                        self.loc.param(index, k)
                    } else {
                        None
                    }
                    .or(key_line(self, "params"));
                    match scalar_text(v) {
                        Ok(text) => out.push((k.to_string(), text, pline)),
                        Err(why) => self.err(
                            Problem::new(ProblemKind::BadParamValue, why)
                                .at(pline)
                                .entry(&er)
                                .key(format!("params.{k}")),
                        ),
                    }
                }
                Some(out)
            }
            Some(_) => {
                self.err(
                    Problem::new(
                        ProblemKind::ParamsNotAMapping,
                        "must be a mapping of `name: value` lines",
                    )
                    .at(key_line(self, "params"))
                    .entry(&er)
                    .key("params"),
                );
                None
            }
        };
        let params = params.unwrap_or_default();
        let model = self.params(&er, params);

        if self.problems.len() > before {
            return None;
        }
        let (aws, limits, codec, params) = model?;
        Some(EmbeddingModel {
            name: name?,
            model_id: model_id?,
            aws,
            limits,
            codec: codec.codec,
            base_model: codec.base_model,
            params,
            line: line.unwrap_or(1),
        })
    }

    pub(super) fn from(
        &mut self,
        from: &str,
        er: &EntryRef,
        line: Option<usize>,
    ) -> Option<String> {
        let problem = |kind, msg: String| {
            Problem::new(kind, msg)
                .at(line)
                .entry(er)
                .key("from")
                .value(from)
        };
        let Some(id) = from.strip_prefix("bedrock:") else {
            let provider = from.split(':').next().unwrap_or_default();
            let hint = if provider.eq_ignore_ascii_case("bedrock") {
                format!(
                    ": write it in lower case, `bedrock:{}`",
                    &from[provider.len()..].trim_start_matches(':')
                )
            } else if provider.contains('.') {
                format!(": if it is a Bedrock model id, write `from: bedrock:{from}`")
            } else {
                String::new()
            };
            self.err(problem(
                ProblemKind::UnsupportedProvider,
                format!(
                    "{} is not supported by this host: bedrock-embed serves `bedrock:<model-id>` only{hint}",
                    q(from)
                ),
            ));
            return None;
        };
        if id.trim().is_empty() {
            self.err(problem(
                ProblemKind::EmptyModelId,
                format!("{} has no model id: write `bedrock:<model-id>`, e.g. bedrock:amazon.titan-embed-text-v2:0", q(from)),
            ));
            return None;
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.err(problem(
                ProblemKind::BadModelId,
                format!(
                    "{} has spaces in the model id: write `bedrock:{}`",
                    q(from),
                    id.trim()
                ),
            ));
            return None;
        }
        Some(id.to_string())
    }
}
