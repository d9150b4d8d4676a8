//! Page helpers for the app: the link's fragment, same-origin URLs, the wall clock and fetch.

use wasm_bindgen::JsCast as _;
use wasm_bindgen_futures::JsFuture;

use onsite_core::{Environment, Renderer};

use crate::{describe, ProbeError};

/// The page's window.
pub fn window() -> Result<web_sys::Window, ProbeError> {
    web_sys::window().ok_or(ProbeError::Unsupported("a window"))
}

/// The page's document, as an event target for key capture.
pub fn document_target() -> Result<web_sys::EventTarget, ProbeError> {
    let document = window()?.document().ok_or(ProbeError::Unsupported("a document"))?;
    Ok(document.into())
}

/// The path of the page, such as `/candidate`.
pub fn path() -> String {
    window().ok().and_then(|w| w.location().pathname().ok()).unwrap_or_default()
}

/// The `name=value` pairs of the URL fragment, where links carry their capability.
pub fn fragment_params() -> Vec<(String, String)> {
    let hash = window().ok().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    parse_params(hash.trim_start_matches('#'))
}

/// Parses `a=1&b=2`, percent-decoding values (capabilities are base64url and unchanged by it;
/// the embedding page's origin arrives encoded). A value that does not decode is kept as it is.
pub fn parse_params(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| {
            (name.to_owned(), percent_decode(value).unwrap_or_else(|| value.to_owned()))
        })
        .collect()
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The WebSocket URL of the edge that served this page.
pub fn socket_url() -> Result<String, ProbeError> {
    let location = window()?.location();
    let protocol = location.protocol().map_err(|_| ProbeError::Unsupported("location.protocol"))?;
    let host = location.host().map_err(|_| ProbeError::Unsupported("location.host"))?;
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    Ok(format!("{scheme}://{host}/api/v1/ws"))
}

/// Seconds since the Unix epoch by the browser's clock.
pub fn now_s() -> u64 {
    // Date.now() is a whole number of milliseconds well inside u64.
    (js_sys::Date::now() / 1000.0).max(0.0) as u64
}

/// What the browser says about itself: automation flag, renderer class and screen size.
/// The renderer's name is classified here and not kept.
pub fn environment() -> Environment {
    let Ok(window) = window() else {
        return Environment {
            webdriver: false,
            renderer: Renderer::Unknown,
            screen_width_px: 0,
            screen_height_px: 0,
        };
    };
    let (screen_width_px, screen_height_px) = window
        .screen()
        .ok()
        .map(|screen| (screen.width().unwrap_or(0), screen.height().unwrap_or(0)))
        .map(|(w, h)| (u32::try_from(w).unwrap_or(0), u32::try_from(h).unwrap_or(0)))
        .unwrap_or((0, 0));
    let renderer =
        webgl_renderer(&window).map_or(Renderer::Unknown, |name| Renderer::classify(&name));
    // `navigator.webdriver` is read by name: web-sys exposes it only behind an unstable flag.
    let webdriver =
        js_sys::Reflect::get(&window.navigator(), &wasm_bindgen::JsValue::from_str("webdriver"))
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
    Environment { webdriver, renderer, screen_width_px, screen_height_px }
}

fn webgl_renderer(window: &web_sys::Window) -> Option<String> {
    // From the WEBGL_debug_renderer_info extension.
    const UNMASKED_RENDERER_WEBGL: u32 = 0x9246;
    let canvas: web_sys::HtmlCanvasElement =
        window.document()?.create_element("canvas").ok()?.dyn_into().ok()?;
    let gl: web_sys::WebGlRenderingContext = canvas.get_context("webgl").ok()??.dyn_into().ok()?;
    let parameter = match gl.get_extension("WEBGL_debug_renderer_info") {
        Ok(Some(_)) => UNMASKED_RENDERER_WEBGL,
        _ => web_sys::WebGlRenderingContext::RENDERER,
    };
    gl.get_parameter(parameter).ok()?.as_string()
}

/// The browser's IANA time zone (`Intl.DateTimeFormat().resolvedOptions().timeZone`).
pub fn time_zone() -> Option<String> {
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    js_sys::Reflect::get(&format.resolved_options(), &wasm_bindgen::JsValue::from_str("timeZone"))
        .ok()?
        .as_string()
}

/// Fetches a same-origin URL as text.
pub async fn fetch_text(url: &str) -> Result<String, ProbeError> {
    let fail = |why: String| ProbeError::Fetch { url: url.to_owned(), why };
    let response =
        JsFuture::from(window()?.fetch_with_str(url)).await.map_err(|e| fail(describe(&e)))?;
    let response: web_sys::Response =
        response.dyn_into().map_err(|_| fail("not a response".into()))?;
    if !response.ok() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    let text = JsFuture::from(response.text().map_err(|e| fail(describe(&e)))?)
        .await
        .map_err(|e| fail(describe(&e)))?;
    text.as_string().ok_or_else(|| fail("body is not text".into()))
}

/// Sends an HTTP request to this edge with an optional bearer credential and JSON body; returns
/// the status and the body text (an error status is not an error here: callers show the edge's
/// sentence).
pub async fn request(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    json_body: Option<&str>,
) -> Result<(u16, String), ProbeError> {
    let fail = |why: String| ProbeError::Fetch { url: url.to_owned(), why };
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(|e| fail(describe(&e)))?;
    if let Some(bearer) = bearer {
        headers
            .set("Authorization", &format!("Bearer {bearer}"))
            .map_err(|e| fail(describe(&e)))?;
    }
    if let Some(body) = json_body {
        headers.set("Content-Type", "application/json").map_err(|e| fail(describe(&e)))?;
        init.set_body(&wasm_bindgen::JsValue::from_str(body));
    }
    init.set_headers(&headers);
    let response = JsFuture::from(window()?.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|e| fail(describe(&e)))?;
    let response: web_sys::Response =
        response.dyn_into().map_err(|_| fail("not a response".into()))?;
    let text = JsFuture::from(response.text().map_err(|e| fail(describe(&e)))?)
        .await
        .map_err(|e| fail(describe(&e)))?;
    Ok((response.status(), text.as_string().unwrap_or_default()))
}

/// A value kept for this browser tab (`sessionStorage`), or `None`.
pub fn session_get(key: &str) -> Option<String> {
    window().ok()?.session_storage().ok()??.get_item(key).ok()?
}

/// Keeps a value for this browser tab; storage that is unavailable (private mode) is ignored.
pub fn session_set(key: &str, value: &str) {
    if let Some(storage) = window().ok().and_then(|w| w.session_storage().ok()).flatten() {
        let _ = storage.set_item(key, value);
    }
}

/// A value kept in this browser (`localStorage`), or `None`.
pub fn local_get(key: &str) -> Option<String> {
    window().ok()?.local_storage().ok()??.get_item(key).ok()?
}

/// Keeps a value in this browser.
pub fn local_set(key: &str, value: &str) {
    if let Some(storage) = window().ok().and_then(|w| w.local_storage().ok()).flatten() {
        let _ = storage.set_item(key, value);
    }
}

/// Copies text to the clipboard; false when the browser does not allow it.
pub async fn copy_text(text: &str) -> bool {
    let Ok(window) = window() else { return false };
    let clipboard =
        js_sys::Reflect::get(&window.navigator(), &wasm_bindgen::JsValue::from_str("clipboard"))
            .ok();
    let write = clipboard
        .as_ref()
        .and_then(|c| js_sys::Reflect::get(c, &wasm_bindgen::JsValue::from_str("writeText")).ok());
    match (clipboard, write.and_then(|f| f.dyn_into::<js_sys::Function>().ok())) {
        (Some(clipboard), Some(write)) => {
            match write.call1(&clipboard, &wasm_bindgen::JsValue::from_str(text)) {
                Ok(promise) => JsFuture::from(js_sys::Promise::from(promise)).await.is_ok(),
                Err(_) => false,
            }
        }
        _ => false,
    }
}

/// A `data:` URL holding `text`, for a download link.
pub fn data_url(mime: &str, text: &str) -> String {
    format!("data:{mime};charset=utf-8,{}", String::from(js_sys::encode_uri_component(text)))
}

/// Whether this page runs inside a frame of another page.
pub fn in_frame() -> bool {
    window()
        .ok()
        .and_then(|w| w.parent().ok().flatten())
        .is_some_and(|parent| window().is_ok_and(|w| parent != w))
}

/// Tells the embedding page about progress: `{source: "onsite", type, ...fields}`, posted only to
/// `target_origin` (never `*`), so no other page can read it.
pub fn post_to_parent(target_origin: &str, kind: &str, fields: &[(&str, wasm_bindgen::JsValue)]) {
    let Some(parent) = window().ok().and_then(|w| w.parent().ok().flatten()) else { return };
    let message = js_sys::Object::new();
    let set = |name: &str, value: &wasm_bindgen::JsValue| {
        let _ = js_sys::Reflect::set(&message, &wasm_bindgen::JsValue::from_str(name), value);
    };
    set("source", &wasm_bindgen::JsValue::from_str("onsite"));
    set("type", &wasm_bindgen::JsValue::from_str(kind));
    for (name, value) in fields {
        set(name, value);
    }
    let _ = parent.post_message(&message, target_origin);
}
