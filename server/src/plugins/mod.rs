//! The plugin host. `runtime` runs components (wasmtime, budgets, capability-gated host
//! functions answering from prefetched data); `app::plugins` stores versions, installs and
//! invocations and wires plugins into the document transitions.

pub mod runtime;
