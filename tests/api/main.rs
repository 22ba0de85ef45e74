//! The integration suite: every test starts the real binary on a free port against a fresh data
//! directory and talks HTTP to it.

#[macro_use]
mod helpers;

mod admin;
mod agent;
mod auth;
mod catalog_names;
mod cli;
mod console;
mod console_admin;
mod console_browser;
mod console_work;
mod conversation;
mod create;
mod defects;
mod deploy;
mod detail;
mod download;
mod durability;
mod etag;
mod history;
mod inbound;
mod inbound_imap;
mod infra;
mod lifecycle;
mod limit;
mod listen_notify;
mod mail;
mod mail_tls;
mod metrics;
mod notify;
mod objects;
mod openapi;
mod passwords;
mod paths;
mod propagation;
mod proxies;
mod receiver;
mod redteam;
mod retention;
mod scaling;
mod search;
mod security;
mod shared_limits;
mod startup;
mod status;
mod update;
mod uploads;
mod walkthrough;
mod webhook_faults;
mod webhooks;
