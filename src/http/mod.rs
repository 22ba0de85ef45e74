//! The HTTP layer: routing, extraction, the envelope. No rules and no SQL live here.

pub mod body;
pub mod client_ip;
pub mod envelope;
pub mod extract;
pub mod inputs;
pub mod metrics;
pub mod openapi;
pub mod path;
pub mod ratelimit;
pub mod routes;
pub mod schema;
pub mod server;
pub mod uploads;
pub mod views;
pub mod wire;
