//! The guest bindings of `bedrock-embed:codec@0.2.0`, generated here once from the package
//! itself (`wit/v0.2.0/codec.wit` of the repository: no copy of the WIT anywhere else).
//!
//! Codecs built on codec-kit need neither a WIT file nor wit-bindgen of their own:
//! [`export_codec!`](crate::export_codec) implements [`Guest`] over codec-kit's types and
//! exports it. A codec that wants the raw generated types implements [`Guest`] itself and
//! exports it with `codec_kit::bindings::export!(MyCodec with_types_in codec_kit::bindings);`.
//!
//! [`Guest`]: exports::bedrock_embed::codec::codec::Guest

wit_bindgen::generate!({
    path: "../../wit/v0.2.0",
    world: "codec-guest",
    // The export macro is used by the codec crates, not here: make it public and have it name
    // these bindings by their path from outside this crate.
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "codec_kit::bindings",
});
