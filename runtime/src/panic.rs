//! Capturing a panic in contract code (a handler, or the state's load, save
//! or drop) as a message with its location, so the lifecycle reports it once,
//! with the user and input it happened on, and the round goes on.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};

use crate::lifecycle::log;

thread_local! {
    static IN_HANDLER: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that records a handler's panic message instead
/// of printing it, so the lifecycle can report it once, with the user and
/// input it happened on. Panics outside handlers are printed as usual.
pub(crate) fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_HANDLER.with(Cell::get) {
                let payload = info.payload();
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic with a non-string payload".to_owned());
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                if cfg!(panic = "abort") {
                    // catch_unwind cannot catch anything in such a build: the
                    // process aborts when this hook returns, so say it now.
                    log(format_args!(
                        "contract code panicked: {msg}{at}; this binary is built with \
                         `panic = \"abort\"`, so the process aborts and the round is lost \
                         (build contracts with the default `panic = \"unwind\"`)"
                    ));
                }
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{at}")));
            } else {
                default(info);
            }
        }));
    });
}

/// Runs contract code (a handler, or the state's load / save / drop), turning
/// a panic into `Err(message)` with the panic's message and location.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    IN_HANDLER.with(|h| h.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    IN_HANDLER.with(|h| h.set(false));
    result.map_err(|_| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "unknown panic".to_owned())
    })
}
