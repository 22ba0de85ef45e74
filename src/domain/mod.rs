//! The desk's rules, free of HTTP and SQL: validated inputs, ticket states and transitions,
//! roles, and the secrets that identify clients and people.

pub mod attachment;
pub mod catalog;
pub mod events;
pub mod fields;
pub mod form;
pub mod inbound;
pub mod mail;
pub mod password;
pub mod people;
pub mod search;
pub mod secrets;
pub mod ticket;
pub mod time;
pub mod unicode;
