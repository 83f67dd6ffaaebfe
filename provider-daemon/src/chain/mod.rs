//! Watching the chain: a websocket subscription to the market's jobs plus a periodic full
//! resync, merged by slot so an older snapshot never overwrites a newer notification.

pub mod watcher;
