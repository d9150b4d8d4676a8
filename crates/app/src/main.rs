//! Entry point of the web app: mounts the page for the current path and does nothing else.

mod charts;
mod format;
mod pages;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(pages::App);
}
