//! Journal guard: manual journal entries must say why. Refuses posting an entry whose memo is
//! shorter than `min_memo` characters (default 10), or that touches an account listed in
//! `locked_accounts` (comma-separated codes, default none), naming the line.

use meridian_plugin_sdk::{Document, Hook, Plugin, Veto, host};

struct JournalGuard;

impl Plugin for JournalGuard {
    fn validate(hook: Hook, entry: Document) -> Result<(), Veto> {
        if hook != Hook::BeforeJournalEntryPost {
            return Ok(());
        }
        let min: usize = host::setting("min_memo").and_then(|v| v.parse().ok()).unwrap_or(10);
        if entry.memo.trim().chars().count() < min {
            return Err(Veto::on_field("memo", format!("a manual entry needs a memo of at least {min} characters")));
        }
        let locked = host::setting("locked_accounts").unwrap_or_default();
        let locked: Vec<&str> = locked.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
        for (i, line) in entry.lines.iter().enumerate() {
            if let Some(code) = line.account.as_deref().filter(|c| locked.contains(c)) {
                return Err(Veto::on_field(
                    format!("lines[{i}].account_id"),
                    format!("account {code} is posted only by its own module, not by hand"),
                ));
            }
        }
        Ok(())
    }
}

meridian_plugin_sdk::plugin!(JournalGuard);
