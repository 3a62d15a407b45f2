//! The functions of `fetch.js`, as Rust calls them: reading the runtime's request once, and
//! sending a request to the origin as a [`super::proxy::Plan`] says.

use worker::js_sys::Promise;
use worker::wasm_bindgen::{self, JsValue, prelude::wasm_bindgen};
use worker::worker_sys::web_sys;

#[wasm_bindgen(module = "/src/edge/fetch.js")]
extern "C" {
    /// `method \n url (\n name \n value)*` of `request`.
    pub fn read(request: &web_sys::Request) -> String;

    /// Sends `request` to the origin as the JSON `plan` says, with `body`; rejects with a
    /// timeout ([`is_timeout`]) or the runtime's fetch error.
    #[wasm_bindgen(js_name = sendPlanned)]
    pub fn send(request: &web_sys::Request, plan: &str, body: &JsValue) -> Promise;

    /// Whether a rejection of [`send`] is its timeout.
    #[wasm_bindgen(js_name = isTimeout)]
    pub fn is_timeout(error: &JsValue) -> bool;

    /// The whole answer to a request decided at once (`gateway::Answer` as JSON), its log line
    /// included; `fail(timeout, detail, problem_json)` renders an origin failure.
    pub fn answer(
        request: &web_sys::Request,
        plan: &str,
        body: &JsValue,
        fail: &JsValue,
    ) -> Promise;
}
