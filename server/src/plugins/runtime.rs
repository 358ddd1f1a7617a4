//! The WASM runtime: one wasmtime engine per process (the pooling allocator, fuel and epoch
//! interruption on), components compiled once and cached by SHA-256, and calls that each get a
//! fresh store from the pre-instantiated component with a memory cap, a fuel budget and a
//! wall-clock deadline. Nothing here touches the database: host functions answer from the data
//! the caller prefetched for this tenant ([`CallData`]), and what a plugin asks the host to do
//! comes back as intents ([`Outcome::purchase_requests`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder, Trap,
};

wasmtime::component::bindgen!({
    path: "../sdk/wit",
    world: "plugin",
    imports: { default: trappable },
    additional_derives: [PartialEq],
});

// The world's `use` brings document, event, hook, price-request, price-adjustment and veto
// into this module already.
pub use meridian::plugin::types::{Decimal as WitDecimal, DocumentLine, Level, Party, StockLevel};

/// The SDK major version this host runs; components must import `meridian:plugin/*@1.x`.
pub const SDK_MAJOR: u64 = 1;
/// The largest component accepted at upload.
pub const MAX_COMPONENT_BYTES: usize = 4 << 20;
/// Memory one call may use.
pub const MEMORY_CAP_BYTES: usize = 32 << 20;
/// The largest text a plugin may hand back (a veto message, a reason).
pub const MAX_OUTPUT_BYTES: usize = 4096;
/// Log bytes kept per call.
pub const MAX_LOG_BYTES: usize = 1000;
/// Host calls per invocation.
pub const MAX_HOST_CALLS: u32 = 1000;
const EPOCH_TICK: Duration = Duration::from_millis(1);

/// What a tenant granted a plugin when enabling it (a subset of what its manifest asks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    Log,
    ReadCustomers,
    ReadStock,
    CreatePurchaseRequests,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::ReadCustomers => "read-customers",
            Capability::ReadStock => "read-stock",
            Capability::CreatePurchaseRequests => "create-purchase-requests",
        }
    }

    pub fn parse(s: &str) -> Option<Capability> {
        [Capability::Log, Capability::ReadCustomers, Capability::ReadStock, Capability::CreatePurchaseRequests]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// The fuel and time a call may use; the plan sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub fuel: u64,
    pub time: Duration,
}

impl Budget {
    /// Validators and calculators: they sit in a user's request.
    pub const SYNC: Budget = Budget { fuel: 10_000_000, time: Duration::from_millis(50) };
    /// Event handlers: after commit, in the background.
    pub const EVENTS: Budget = Budget { fuel: 200_000_000, time: Duration::from_secs(2) };
}

/// Everything a call may see: the calling tenant's data the caller prefetched, the grants and
/// the plugin's settings.
#[derive(Clone, Debug, Default)]
pub struct CallData {
    pub plugin: String,
    pub grants: BTreeSet<Capability>,
    pub settings: HashMap<String, String>,
    pub customers: HashMap<String, Party>,
    pub stock: HashMap<String, Vec<StockLevel>>,
}

/// A purchase request a plugin asked for; the host raises it in its own transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct PurchaseIntent {
    pub item_id: String,
    pub quantity: rust_decimal::Decimal,
    pub reason: String,
}

/// How a call ended, with what it logged and asked for.
#[derive(Debug)]
pub struct Outcome<T> {
    pub result: Result<T, Failure>,
    pub duration: Duration,
    pub fuel_used: u64,
    pub logs: Vec<(Level, String)>,
    pub purchase_requests: Vec<PurchaseIntent>,
}

/// Why a call failed: each names what the plugin did, in words a tenant admin can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("used its whole budget of {0} instructions and was stopped")]
    OutOfFuel(u64),
    #[error("ran past its time limit of {0} ms and was stopped")]
    Timeout(u128),
    #[error("tried to use more than {} MiB of memory", MEMORY_CAP_BYTES >> 20)]
    Memory,
    #[error("called {function} without the {capability} capability")]
    NotGranted { function: &'static str, capability: &'static str },
    #[error("answered with {0} bytes, more than the {MAX_OUTPUT_BYTES} allowed")]
    OutputTooLarge(usize),
    #[error("called the host more than {MAX_HOST_CALLS} times")]
    TooManyHostCalls,
    #[error("crashed ({0})")]
    Trap(String),
}

/// Why a component is refused at upload.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the component is {0} bytes; the limit is {MAX_COMPONENT_BYTES}")]
    TooLarge(usize),
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    #[error("built against SDK {found}; this server runs SDK {SDK_MAJOR}.x")]
    WrongSdk { found: String },
    #[error("imports {0}, which Meridian does not provide")]
    ForbiddenImport(String),
    #[error("does not export the plugin world's hooks: {0}")]
    NotAPlugin(String),
}

/// A compiled, pre-instantiated plugin version.
pub struct Prepared {
    pub sha256: String,
    pre: PluginPre<HostState>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("sha256", &self.sha256).finish_non_exhaustive()
    }
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Mutex<HashMap<String, Arc<Prepared>>>,
}

/// The process's runtime: one engine and one compiled cache per node.
pub fn runtime() -> Result<&'static Runtime, String> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Runtime::new().map_err(|e| format!("the plugin runtime did not start: {e}")))
        .as_ref()
        .map_err(Clone::clone)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

impl Runtime {
    fn new() -> wasmtime::Result<Runtime> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(256)
            .total_core_instances(1024)
            .total_memories(256)
            .total_tables(1024)
            .max_memory_size(MEMORY_CAP_BYTES)
            .max_core_instances_per_component(16)
            .max_memories_per_component(4)
            .max_tables_per_component(16);
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let mut linker = Linker::<HostState>::new(&engine);
        Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
        let weak = engine.weak();
        std::thread::Builder::new().name("plugin-epoch".into()).spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
        Ok(Runtime { engine, linker, cache: Mutex::default() })
    }

    /// A version compiled earlier on this node.
    pub fn cached(&self, sha256: &str) -> Option<Arc<Prepared>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(sha256).cloned()
    }

    /// Checks a component's imports and exports and compiles it (or takes it from the cache).
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<Prepared>, LoadError> {
        if bytes.len() > MAX_COMPONENT_BYTES {
            return Err(LoadError::TooLarge(bytes.len()));
        }
        let sha256 = sha256_hex(bytes);
        if let Some(p) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(&sha256) {
            return Ok(p.clone());
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| LoadError::Invalid(root_message(&e)))?;
        let ty = component.component_type();
        let mut linker = self.linker.clone();
        for (name, item) in ty.imports(&self.engine) {
            if let Some(rest) = name.strip_prefix("meridian:plugin/") {
                let version = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
                if version.split('.').next().and_then(|m| m.parse::<u64>().ok()) != Some(SDK_MAJOR) {
                    return Err(LoadError::WrongSdk { found: version.to_owned() });
                }
            } else if !(name.starts_with("wasi:") && matches!(item.ty, ComponentItem::ComponentInstance(_))) {
                return Err(LoadError::ForbiddenImport(name.to_owned()));
            }
        }
        // Rust's standard library links WASI interfaces it calls only on a panic or on I/O
        // that a plugin has no business doing; they are there, and they trap if called.
        linker.define_unknown_imports_as_traps(&component).map_err(|e| LoadError::Invalid(root_message(&e)))?;
        let pre = linker.instantiate_pre(&component).map_err(|e| LoadError::Invalid(root_message(&e)))?;
        let pre = PluginPre::new(pre).map_err(|e| LoadError::NotAPlugin(root_message(&e)))?;
        let prepared = Arc::new(Prepared { sha256: sha256.clone(), pre });
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(sha256, prepared.clone());
        Ok(prepared)
    }

    /// Asks a validator about a transition.
    pub fn validate(
        &self,
        p: &Prepared,
        data: CallData,
        budget: Budget,
        hook: Hook,
        doc: &Document,
    ) -> Outcome<Result<(), Veto>> {
        self.call(
            p,
            data,
            budget,
            |plugin, store| plugin.call_validate(store, hook, doc),
            |r| match r {
                Ok(()) => Ok(()),
                Err(v) => check_len(v.message.len() + v.field.as_ref().map_or(0, String::len)),
            },
        )
    }

    /// Asks a calculator for a line's price.
    pub fn price_line(
        &self,
        p: &Prepared,
        data: CallData,
        budget: Budget,
        req: &PriceRequest,
    ) -> Outcome<Option<PriceAdjustment>> {
        self.call(
            p,
            data,
            budget,
            |plugin, store| plugin.call_price_line(store, req),
            |r| match r {
                Some(a) => check_len(a.reason.len()),
                None => Ok(()),
            },
        )
    }

    /// Hands a batch of events to a handler.
    pub fn handle_events(
        &self,
        p: &Prepared,
        data: CallData,
        budget: Budget,
        events: &[Event],
    ) -> Outcome<Result<(), String>> {
        self.call(
            p,
            data,
            budget,
            |plugin, store| plugin.call_handle_events(store, events),
            |r| match r {
                Ok(()) => Ok(()),
                Err(e) => check_len(e.len()),
            },
        )
    }

    fn call<T>(
        &self,
        p: &Prepared,
        data: CallData,
        budget: Budget,
        run: impl FnOnce(&Plugin, &mut Store<HostState>) -> wasmtime::Result<T>,
        size_check: impl FnOnce(&T) -> Result<(), Failure>,
    ) -> Outcome<T> {
        let started = Instant::now();
        let limits = StoreLimitsBuilder::new()
            .memory_size(MEMORY_CAP_BYTES)
            .instances(16)
            .tables(16)
            .memories(4)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(&self.engine, HostState::new(data, limits));
        store.limiter(|s| &mut s.limits);
        let ticks = u64::try_from(budget.time.as_millis() / EPOCH_TICK.as_millis()).unwrap_or(u64::MAX).max(1);
        store.set_epoch_deadline(ticks);
        let result = store
            .set_fuel(budget.fuel)
            .and_then(|()| p.pre.instantiate(&mut store))
            .and_then(|plugin| run(&plugin, &mut store));
        let fuel_used = budget.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let state = store.into_data();
        let result = match result {
            Ok(v) => size_check(&v).map(|()| v),
            Err(e) => Err(state.denied.clone().unwrap_or_else(|| classify(&e, budget))),
        };
        Outcome {
            result,
            duration: started.elapsed(),
            fuel_used,
            logs: state.logs,
            purchase_requests: state.purchase_requests,
        }
    }
}

fn check_len(n: usize) -> Result<(), Failure> {
    if n > MAX_OUTPUT_BYTES { Err(Failure::OutputTooLarge(n)) } else { Ok(()) }
}

fn root_message(e: &wasmtime::Error) -> String {
    e.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

fn classify(e: &wasmtime::Error, budget: Budget) -> Failure {
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Failure::OutOfFuel(budget.fuel),
        Some(Trap::Interrupt) => Failure::Timeout(budget.time.as_millis()),
        Some(t) => Failure::Trap(t.to_string()),
        None => {
            let text = root_message(e);
            if text.contains("growing memory") {
                Failure::Memory
            } else if text.contains("unknown import") {
                // A Rust plugin that panics writes its message through WASI, which traps here.
                Failure::Trap("it panicked".into())
            } else {
                Failure::Trap(text)
            }
        }
    }
}

/// The store's data: what the host functions may see and what they collected.
pub struct HostState {
    limits: StoreLimits,
    data: CallData,
    logs: Vec<(Level, String)>,
    log_bytes: usize,
    host_calls: u32,
    purchase_requests: Vec<PurchaseIntent>,
    /// Set when the plugin called something it was not granted; the call fails with it.
    denied: Option<Failure>,
}

impl HostState {
    fn new(data: CallData, limits: StoreLimits) -> HostState {
        HostState {
            limits,
            data,
            logs: Vec::new(),
            log_bytes: 0,
            host_calls: 0,
            purchase_requests: Vec::new(),
            denied: None,
        }
    }

    fn enter(&mut self, function: &'static str, capability: Option<Capability>) -> wasmtime::Result<()> {
        self.host_calls += 1;
        if self.host_calls > MAX_HOST_CALLS {
            self.denied = Some(Failure::TooManyHostCalls);
            wasmtime::bail!("too many host calls");
        }
        if let Some(c) = capability.filter(|c| !self.data.grants.contains(c)) {
            self.denied = Some(Failure::NotGranted { function, capability: c.as_str() });
            wasmtime::bail!("{function} is not granted");
        }
        Ok(())
    }
}

impl meridian::plugin::types::Host for HostState {}

impl meridian::plugin::host::Host for HostState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.enter("log", Some(Capability::Log))?;
        let room = MAX_LOG_BYTES.saturating_sub(self.log_bytes);
        if room > 0 {
            let mut cut = message.len().min(room);
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            self.log_bytes += cut;
            self.logs.push((level, message[..cut].to_owned()));
        }
        Ok(())
    }

    fn setting(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.enter("setting", None)?;
        Ok(self.data.settings.get(&key).cloned())
    }

    fn read_customer(&mut self, id: String) -> wasmtime::Result<Result<Party, String>> {
        self.enter("read-customer", Some(Capability::ReadCustomers))?;
        Ok(self.data.customers.get(&id).cloned().ok_or_else(|| format!("no customer {id}")))
    }

    fn read_stock(&mut self, item_id: String) -> wasmtime::Result<Result<Vec<StockLevel>, String>> {
        self.enter("read-stock", Some(Capability::ReadStock))?;
        Ok(self.data.stock.get(&item_id).cloned().ok_or_else(|| format!("no item {item_id}")))
    }

    fn request_purchase(
        &mut self,
        item_id: String,
        quantity: WitDecimal,
        reason: String,
    ) -> wasmtime::Result<Result<(), String>> {
        self.enter("request-purchase", Some(Capability::CreatePurchaseRequests))?;
        if !self.data.stock.contains_key(&item_id) {
            return Ok(Err(format!("no item {item_id}")));
        }
        let Some(quantity) = to_decimal(quantity).filter(|q| *q > rust_decimal::Decimal::ZERO) else {
            return Ok(Err("the quantity must be a positive number".into()));
        };
        if reason.len() > MAX_OUTPUT_BYTES {
            return Ok(Err(format!("the reason is longer than {MAX_OUTPUT_BYTES} bytes")));
        }
        self.purchase_requests.push(PurchaseIntent { item_id, quantity, reason });
        Ok(Ok(()))
    }
}

/// A WIT decimal as a `rust_decimal`, when its scale is one rust_decimal holds.
pub fn to_decimal(d: WitDecimal) -> Option<rust_decimal::Decimal> {
    rust_decimal::Decimal::try_new(d.units, u32::from(d.scale)).ok()
}

/// A `rust_decimal` as a WIT decimal (values past 18 digits are refused).
/// The scale is kept (12.50 stays units 1250, scale 2) unless the units only fit normalized.
pub fn from_decimal(d: rust_decimal::Decimal) -> Option<WitDecimal> {
    let fit = |d: rust_decimal::Decimal| {
        Some(WitDecimal { units: i64::try_from(d.mantissa()).ok()?, scale: u8::try_from(d.scale()).ok()? })
    };
    fit(d).or_else(|| fit(d.normalize()))
}
