//! A valid WebAssembly component of the wrong world (`example:greeter`): the host must refuse
//! it at load with a message naming the interface it expected.

wit_bindgen::generate!({
    path: "wit",
    world: "greeter",
});

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

#[cfg(target_arch = "wasm32")]
export!(Component);

impl exports::example::greeter::greet::Guest for Component {
    fn hello(name: String) -> String {
        format!("hello, {name}")
    }
}
