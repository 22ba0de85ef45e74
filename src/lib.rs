//! `supportdesk` as a library: the binary (`main.rs`) is a thin caller of [`cli`], and the
//! integration suite starts the real router in-process through [`app::start`] and makes its
//! fixtures through [`services`] and [`store`].

pub mod app;
pub mod cli;
pub mod config;
pub mod console;
pub mod domain;
pub mod http;
pub mod services;
pub mod store;
