//! Hostile: allocates without end. The host's memory cap stops it.
use meridian_plugin_sdk::{Document, Hook, Plugin, Veto};

struct Bomb;

impl Plugin for Bomb {
    fn validate(_: Hook, _: Document) -> Result<(), Veto> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            // Reserve a MiB at a time without filling it: memory grows faster than fuel burns.
            let mut block = Vec::<u8>::with_capacity(1 << 20);
            block.push(7);
            hoard.push(std::hint::black_box(block));
            if hoard.len() == usize::MAX {
                return Ok(());
            }
        }
    }
}

meridian_plugin_sdk::plugin!(Bomb);
