//! Operations shared by the HTTP routes and the command line, so both do the same work through
//! the same code: each combines domain rules with storage.

pub mod accounts;
pub mod auth;
pub mod inbound;
pub mod jwt;
pub mod notify;
pub mod pace;
pub mod redis;
pub mod throttle;
pub mod tokens;
