//! HTTP routes: the session API, evidence export, the JWK set, health, metrics, the WebSocket
//! upgrades and the web assets, behind rate limits and an origin allow-list.

use std::sync::Arc;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State as Extract};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use onsite_core::codes::ErrorCode;
use onsite_core::jws::{self, Expect};
use onsite_core::policy::Policy;
use onsite_core::wire::{
    self, ApiErrorV1, DecisionV1, EvidenceV1, IssuedVerdictV1, SessionCreateRequestV1,
    SessionCreatedV1, SessionListV1, SessionSummaryV1, VerdictListV1, VerifyAnswerV1,
    VerifyRequestV1,
};
use serde::Deserialize;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::limits;
use crate::metrics::Metrics;
use crate::secrets;
use crate::store::SessionRow;
use crate::State;

/// The policy every response carries: scripts only from this origin (wasm allowed), no inline
/// script or style, sockets only back to this origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; \
     base-uri 'none'; form-action 'none'";

/// The largest verify request accepted (bytes); a token is a few KiB.
const MAX_VERIFY_BODY_BYTES: usize = 64 * 1024;

/// The content security policy, letting pages open sockets to the measuring edges too.
fn content_security_policy(state: &State) -> HeaderValue {
    let peers: Vec<String> = state
        .peers
        .iter()
        .filter_map(|(peer, _)| {
            let (scheme, rest) = peer.url.split_once("://")?;
            let host = rest.split('/').next()?;
            Some(format!(" {scheme}://{host}"))
        })
        .collect();
    // Pages of allowed origins may embed the candidate widget in an iframe.
    let ancestors: String =
        state.allowed_origins.iter().map(|origin| format!(" {origin}")).collect();
    let policy = CONTENT_SECURITY_POLICY
        .replace("connect-src 'self'", &format!("connect-src 'self'{}", peers.concat()))
        .replace("frame-ancestors 'self'", &format!("frame-ancestors 'self'{ancestors}"));
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static(CONTENT_SECURITY_POLICY))
}

pub(crate) fn router(state: Arc<State>) -> Router {
    let index = state.assets_dir.join("index.html");
    let policy = content_security_policy(&state);
    let pages = Router::new()
        .route_service("/", ServeFile::new(&index))
        .route_service("/candidate", ServeFile::new(&index))
        .route_service("/interviewer", ServeFile::new(&index))
        .route_service("/dashboard", ServeFile::new(&index))
        .route_service("/gate", ServeFile::new(&index))
        .fallback_service(ServeDir::new(&state.assets_dir));
    let api = Router::new()
        .route(
            "/api/v1/sessions",
            post(create_session).get(list_sessions).layer(DefaultBodyLimit::max(4 * 1024)),
        )
        .route("/api/v1/sessions/{id}/verdicts", get(verdict_history))
        .route("/api/v1/ws", get(crate::ws::upgrade))
        .route("/api/v1/verify", post(verify).layer(DefaultBodyLimit::max(MAX_VERIFY_BODY_BYTES)))
        .route("/api/v1/sessions/{id}/evidence", get(export_evidence))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard));
    // Measuring is open to pages of any origin: other edges' candidate pages open it, it needs no
    // capability, and it returns only the caller's own round trips. It is still rate limited.
    let measuring = Router::new()
        .route("/api/v1/echo", get(crate::ws::measure_upgrade))
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    let https = state.public_url.starts_with("https://");
    let router = Router::new()
        .merge(api)
        .merge(measuring)
        .route("/.well-known/jwks.json", get(jwks))
        .route("/healthz", get(healthz))
        .with_state(state)
        .merge(pages)
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, policy))
        // Cross-origin isolation: also gives the probe 5 µs timers instead of 100 µs.
        .layer(header_layer(HeaderName::from_static("cross-origin-opener-policy"), "same-origin"))
        .layer(header_layer(
            HeaderName::from_static("cross-origin-embedder-policy"),
            "require-corp",
        ))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::REFERRER_POLICY, "no-referrer"));
    // Served over HTTPS (by its public URL, usually behind a TLS proxy): browsers must not come
    // back over plain HTTP, where links and tokens could be read or changed.
    if https {
        router.layer(header_layer(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
    } else {
        router
    }
}

/// The `host[:port]` of an origin or URL (`scheme://host[:port][/path]`).
fn authority(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    rest.split('/').next().filter(|host| !host.is_empty())
}

/// Whether a page at `origin` may call this edge: its own origin (by its public URL or by the
/// `Host` it was reached at) or one of the configured ones, and only when the request reached
/// the edge under a host no one else's DNS can point here: its public host, an allowed origin's
/// host, an IP literal or `localhost`. A page served from a name that merely resolves to this
/// edge (DNS rebinding) sends that name as both `Host` and `Origin` and is refused.
fn origin_allowed(state: &State, headers: &HeaderMap, origin: &str) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|host| host.to_str().ok()) else {
        return false;
    };
    let named = |url: &str| authority(url).is_some_and(|known| known.eq_ignore_ascii_case(host));
    let trusted = named(&state.public_url)
        || state.allowed_origins.iter().any(|allowed| named(allowed))
        || cannot_be_rebound(host);
    let scheme = origin.split("://").next().unwrap_or("http");
    trusted
        && (origin == own_origin(&state.public_url)
            || origin.eq_ignore_ascii_case(&format!("{scheme}://{host}"))
            || state.allowed_origins.iter().any(|allowed| allowed == origin))
}

/// Whether a `Host` (`name[:port]`) names this machine in a way DNS cannot change: an IPv4 or
/// IPv6 literal, or `localhost`.
fn cannot_be_rebound(host: &str) -> bool {
    if let Some(rest) = host.strip_prefix('[') {
        return rest
            .split_once(']')
            .is_some_and(|(ip, _)| ip.parse::<std::net::Ipv6Addr>().is_ok());
    }
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    name.parse::<std::net::Ipv4Addr>().is_ok() || name.eq_ignore_ascii_case("localhost")
}

/// The edge's own origin (`scheme://host[:port]`), from its public URL.
fn own_origin(public_url: &str) -> String {
    public_url.split('/').take(3).collect::<Vec<_>>().join("/")
}

/// Takes a token from the caller's address bucket; `429` with a sentence when it is empty.
async fn rate_limit(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    Metrics::add(&state.metrics.http_requests);
    if !state.limits.per_address.take(&limits::network_of(peer.ip()), crate::clock::monotonic()) {
        Metrics::add(&state.metrics.rate_limited);
        state.metrics.refused(ErrorCode::RateLimited);
        let mut response = ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests from this address; wait a few seconds and try again".into(),
        )
        .into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    }
    next.run(request).await
}

/// The API's gate: the rate limit, then the origin allow-list (CORS for the browser, and the
/// same check for WebSocket upgrades, which CORS does not cover).
async fn guard(
    Extract(state): Extract<Arc<State>>,
    connect: ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let Some(origin) = origin else {
        // Not a browser, or a same-origin GET: capabilities and the API key decide.
        return no_store(rate_limit(Extract(state), connect, request, next).await);
    };
    if !origin_allowed(&state, request.headers(), &origin) {
        state.metrics.refused(ErrorCode::Origin);
        return ApiError(StatusCode::FORBIDDEN, format!("pages at {origin} may not call this edge; its operator can allow them with --allow-origin")).into_response();
    }
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        rate_limit(Extract(state), connect, request, next).await
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if preflight {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    no_store(response)
}

/// API answers carry capabilities (new sessions' links), signed verdicts, evidence and claims:
/// no browser, proxy or shared cache may keep them.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The SHA-256 of the `Authorization: Bearer` credential, or 401 with `missing` as the sentence.
fn bearer_sha256(headers: &HeaderMap, missing: &str) -> Result<[u8; 32], ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, missing.to_owned()))?;
    Ok(secrets::sha256(presented.trim().as_bytes()))
}

/// Checks `Authorization: Bearer <API key>`.
fn require_api_key(state: &State, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = bearer_sha256(headers, "send the API key as `Authorization: Bearer <key>`")?;
    if !secrets::digests_equal(&presented, &state.api_key_sha256) {
        return Err(ApiError(StatusCode::UNAUTHORIZED, "the API key is wrong".into()));
    }
    Ok(())
}

/// Checks `Authorization: Bearer <interviewer capability>` for a session.
async fn require_interviewer(
    state: &State,
    headers: &HeaderMap,
    session: &str,
) -> Result<SessionRow, ApiError> {
    let presented = bearer_sha256(
        headers,
        "send the interviewer link's token as `Authorization: Bearer <token>`",
    )?;
    let row = state.store.session(session).await?;
    // The same answer for a missing session and a wrong token: neither tells which it was.
    match row {
        Some(row) if secrets::digests_equal(&presented, &row.interviewer_token_sha256) => Ok(row),
        _ => Err(ApiError(StatusCode::FORBIDDEN, "no such session for this token".into())),
    }
}

/// The dashboard's list: the newest 200 sessions with their latest verdict (API key).
async fn list_sessions(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_api_key(&state, &headers)?;
    let sessions = state
        .store
        .list_sessions(200)
        .await?
        .into_iter()
        .map(|s| SessionSummaryV1 {
            p_remote: s.verdict_json.as_deref().and_then(|text| stored_verdict(text).p_remote),
            id: s.id,
            created_at_ms: s.created_at_ms,
            claimed_location: s.claimed_location,
            class: s.class,
            issued_at_s: s.issued_at_s,
        })
        .collect();
    Ok(Json(SessionListV1 { sessions }).into_response())
}

/// A session's verdicts over time, oldest first (the newest 500), for the interviewer.
async fn verdict_history(
    Extract(state): Extract<Arc<State>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_interviewer(&state, &headers, &id).await?;
    let verdicts = state
        .store
        .verdict_history(&id, 500)
        .await?
        .into_iter()
        .map(|row| {
            let verdict = stored_verdict(&row.verdict_json);
            IssuedVerdictV1 {
                class: verdict.class,
                issued_at_s: row.issued_at_s,
                p_remote: verdict.p_remote,
                token: row.token,
            }
        })
        .collect();
    Ok(Json(VerdictListV1 { session: id, verdicts }).into_response())
}

/// The two figures the lists show from a stored verdict's JSON.
#[derive(Default, Deserialize)]
struct StoredVerdict {
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    p_remote: Option<f64>,
}

/// Reads the list's figures from a stored verdict; a verdict that cannot be read shows neither.
fn stored_verdict(json: &str) -> StoredVerdict {
    serde_json::from_str(json).unwrap_or_default()
}

async fn metrics(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_api_key(&state, &headers)?;
    let counts = state.store.counts().await.ok();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render(counts))
        .into_response())
}

/// A session's evidence as stored (every batch, the round trips and the browser's report), for
/// the interviewer to export.
async fn export_evidence(
    Extract(state): Extract<Arc<State>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_interviewer(&state, &headers, &id).await?;
    // Version-1 evidence, byte for byte as the edge hashes it: `onsite score` re-scores it, and
    // once the session is finished its SHA-256 is the final token's `evidence_sha256`.
    let evidence = crate::ws::stored(&state, &id).await?.evidence;
    let body = EvidenceV1::from_evidence(&evidence).canonical_bytes();
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"onsite-{id}-evidence.json\""))
                .unwrap_or(HeaderValue::from_static("attachment")),
        )],
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response())
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// An error answer: a status and a sentence, as `{"error": "..."}`.
pub(crate) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ApiErrorV1 { error: self.1 })).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> ApiError {
        tracing::error!(%error, "storage failed");
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "storage is unavailable; try again".into())
    }
}

async fn create_session(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    require_api_key(&state, &headers)?;
    let request: SessionCreateRequestV1 = if body.iter().all(u8::is_ascii_whitespace) {
        SessionCreateRequestV1::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("send JSON like {{\"claimed_location\": \"Chicago\"}} or nothing: {e}"),
            )
        })?
    };
    if let Some(text) = &request.claimed_location {
        if onsite_core::evidence::ClaimedLocation::parse(text).is_none() {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("unknown location {text:?}: name a listed city or give \"lat,lon\""),
            ));
        }
    }
    let id = onsite_core::b64::encode(&secrets::random_bytes(12));
    let candidate_token = secrets::new_token();
    let interviewer_token = secrets::new_token();
    state
        .store
        .create_session(&SessionRow {
            id: id.clone(),
            candidate_token_sha256: secrets::sha256(candidate_token.as_bytes()),
            interviewer_token_sha256: secrets::sha256(interviewer_token.as_bytes()),
            created_at_ms: crate::clock::now_ms(),
            claimed_location: request.claimed_location,
            finished_at_ms: None,
        })
        .await?;
    tracing::info!(session = %id, "session created");
    // Capabilities ride in the fragment, which browsers never send to a server or a referrer.
    let base = &state.public_url;
    let body = SessionCreatedV1 {
        candidate_url: format!("{base}/candidate#session={id}&token={candidate_token}"),
        // The interviewer page checks the verdicts' audience; it is named only when it is not
        // the default.
        interviewer_url: if state.audience == jws::DEFAULT_AUDIENCE {
            format!("{base}/interviewer#session={id}&token={interviewer_token}")
        } else {
            let aud = url_component(&state.audience);
            format!("{base}/interviewer#session={id}&aud={aud}&token={interviewer_token}")
        },
        id,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn jwks(Extract(state): Extract<Arc<State>>) -> Response {
    let jwks = state.keyring.current().jwks.clone();
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(jwks.as_ref().clone())).into_response()
}

async fn healthz(Extract(state): Extract<Arc<State>>) -> Response {
    match state.store.session("healthz-probe").await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(error) => {
            tracing::error!(%error, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable\n").into_response()
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn url_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An optional expected claim: absent or `null` means "not checked", a blank string is refused
/// (it would otherwise look like a check that can never pass or, worse, is skipped).
fn expected_claim(name: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    match value.map(str::trim) {
        None => Ok(None),
        Some("") => Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("\"{name}\" is blank: give the value the token must carry, or leave it out"),
        )),
        Some(text) => Ok(Some(text.to_owned())),
    }
}

async fn verify(
    Extract(state): Extract<Arc<State>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: VerifyRequestV1 = serde_json::from_slice(&body).map_err(|e| {
        ApiError(StatusCode::BAD_REQUEST, format!("send JSON like {{\"token\": \"...\", \"sub\": \"<session id>\", \"require\": [\"local\"], \"max_age_s\": 3600}}: {e}"))
    })?;
    let allowed = match &request.require {
        Some(names) => {
            Policy::parse_class_list(names).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?
        }
        None => Policy::default().allowed,
    };
    let policy = Policy { allowed, max_age_s: request.max_age_s };
    let audience =
        expected_claim("aud", request.aud.as_deref())?.unwrap_or_else(|| state.audience.clone());
    let issuer = expected_claim("iss", request.iss.as_deref())?;
    let subject = expected_claim("sub", request.sub.as_deref())?;
    let now_s = crate::clock::now_s();
    let jwks = state.keyring.current().jwks.clone();
    let expect = Expect {
        now_s,
        audience: &audience,
        issuer: issuer.as_deref(),
        subject: subject.as_deref(),
        leeway_s: 60,
    };
    let answer = match wire::verify_verdict(&request.token, &jwks, expect) {
        Err(error) => VerifyAnswerV1 {
            decision: DecisionV1::Hold,
            valid: false,
            reasons: vec![error.to_string()],
            claims: None,
        },
        Ok(claims) => {
            let mut reasons: Vec<String> = Vec::new();
            let decision = match policy.check(&claims, now_s) {
                Ok(()) => DecisionV1::Ship,
                Err(error) => {
                    reasons.push(error.to_string());
                    DecisionV1::Hold
                }
            };
            if subject.is_none() {
                reasons.push("no \"sub\" was given, so this verdict may be about any session of this edge; send the session the portal expects".into());
            }
            reasons.extend(claims.verdict.reasons.iter().map(|r| r.text.clone()));
            VerifyAnswerV1 { decision, valid: true, reasons, claims: Some(claims) }
        }
    };
    Ok(Json(answer).into_response())
}
