//! The base model id codecs are routed by: codecs report prefixes of *base* ids, so routing
//! reads the model out of a profile id or an ARN first. The id rules live in
//! [`crate::model_id`], shared with the IAM hints.

pub use crate::model_id::{BaseModel, base_model};
