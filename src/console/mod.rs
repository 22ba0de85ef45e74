//! The agent console: server-rendered pages under `/console/` for support staff (askama
//! templates in `templates/console/`, checked at compile time), with htmx for live updates and a
//! small script of keyboard shortcuts, all served from the binary. Every action is a form that
//! posts and redirects, so the console works without JavaScript; every action is the agent
//! API's own input parsing and store write.

pub mod admin;
pub mod assets;
pub mod bulk;
pub mod live;
pub mod pages;
pub mod presence;
pub mod queue;
pub mod session;
pub mod signin;
pub mod ticket;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::AppState;

/// Scripts and styles from the console's own files only: no inline script, no inline style,
/// no plugin, no other site; forms post to the console only; never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// The console's routes, beside the API's.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(queue::page))
        .route("/console/sign-in", get(signin::page).post(signin::sign_in))
        .route("/console/sign-out", post(signin::sign_out))
        .route(
            "/console/sign-out-everywhere",
            post(signin::sign_out_everywhere),
        )
        .route("/console/bulk", post(bulk::apply))
        .route("/console/tickets/{id}", get(ticket::page))
        .route("/console/tickets/{id}/reply", post(ticket::reply))
        .route("/console/tickets/{id}/note", post(ticket::note))
        .route("/console/tickets/{id}/update", post(ticket::update))
        .route("/console/tickets/{id}/tags", post(ticket::tags))
        .route("/console/tickets/{id}/presence", post(ticket::presence))
        .route("/console/attachments/{id}", get(ticket::attachment))
        .route("/console/live", get(live::stream))
        // Administrators only (`admin::AdminOnly`).
        .route("/console/admin", get(admin::index))
        .route(
            "/console/admin/categories",
            get(admin::catalog::categories).post(admin::catalog::create_category),
        )
        .route(
            "/console/admin/categories/{id}",
            post(admin::catalog::update_category),
        )
        .route(
            "/console/admin/tags",
            get(admin::catalog::tags).post(admin::catalog::create_tag),
        )
        .route("/console/admin/tags/{id}", post(admin::catalog::update_tag))
        .route(
            "/console/admin/people",
            get(admin::people::list).post(admin::people::create),
        )
        .route(
            "/console/admin/people/{id}",
            get(admin::people::person).post(admin::people::update),
        )
        .route(
            "/console/admin/keys",
            get(admin::keys::list).post(admin::keys::create),
        )
        .route("/console/admin/keys/{id}/revoke", post(admin::keys::revoke))
        .route(
            "/console/admin/settings",
            get(admin::settings::page).post(admin::settings::save),
        )
        .route(
            "/console/admin/webhooks",
            get(admin::webhooks::list).post(admin::webhooks::create),
        )
        .route(
            "/console/admin/webhooks/{id}",
            get(admin::webhooks::endpoint).post(admin::webhooks::update),
        )
        .route(
            "/console/admin/webhooks/{id}/rotate",
            post(admin::webhooks::rotate),
        )
        .route(
            "/console/admin/webhooks/{id}/delete",
            post(admin::webhooks::delete),
        )
        .route(
            "/console/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            post(admin::webhooks::redeliver),
        )
        .route("/console/assets/{file}", get(assets::serve))
        .layer(
            ServiceBuilder::new()
                // Pages, styles and scripts gzipped for browsers that ask (all do): the first
                // load is a quarter of its size. The default predicate leaves the event
                // stream, images and tiny answers alone. At the fastest level: at the default
                // one gzip was a quarter of the queue page's CPU at 1M tickets (bench/README.md,
                // "Console"), for a page a few hundred bytes smaller.
                .layer(
                    CompressionLayer::new()
                        .gzip(true)
                        .quality(tower_http::CompressionLevel::Fastest),
                )
                // Not overriding: a download keeps its stricter one (`sandbox`).
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(CONTENT_SECURITY_POLICY),
                ))
                .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                )),
        )
}
