//! Hostile: allocates without end. The host's memory cap stops it.
use meridian_plugin_sdk::{Document, Hook, Plugin, Veto};

struct Bomb;

impl Plugin for Bomb {
    fn validate(_: Hook, _: Document) -> Result<(), Veto> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![7u8; 1 << 20]));
            if hoard.len() == usize::MAX {
                return Ok(());
            }
        }
    }
}

meridian_plugin_sdk::plugin!(Bomb);
