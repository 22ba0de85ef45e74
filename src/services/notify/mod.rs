//! Notifications: the dispatcher that turns committed outbox rows into deliveries (queued
//! mails, `mail/`), and the in-process broadcast of committed events (the console's live
//! updates subscribe to it).

pub mod dispatcher;
pub mod mail;
pub mod schedule;
pub mod signing;
pub mod ssrf;
pub mod webhooks;

pub use dispatcher::{Dispatcher, DispatcherConfig};
