//! The HTTP edge: routes, extractors and status codes. Handlers stay thin; the logic lives in
//! the domain modules.

use assent_shared::api::ErrorCode;
use std::net::{IpAddr, SocketAddr};

use assent_shared::api::{
    AdminUser, CallHistory, ChangePassword, Confirm, CreateMeeting, DirectoryEntry, EmailCode,
    EmailOnly, KeyBackupBody, LockMeeting, Me, Meeting, MemberRef, PasswordPolicy, Prelogin,
    PublishIdentity, RecoveryComplete, RecoveryTicket, RecoveryVerify, SessionInfo, SetDisabled,
    SetRole, SigninRequest, SigninResponse, SignupRequest, SignupResponse, TotpCode, TotpEnrolment,
};
use assent_shared::ids::UserId;
use assent_shared::password::{self, Rule};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::http_error::ApiJson;
use crate::sessions::{self, AuthUser};
use crate::signaling::history;
use crate::state::AppState;
use crate::{accounts, admin, directory, meetings, totp};

/// The client's IP address: the TCP peer (loopback in in-process tests, which have none), or,
/// when that peer is a trusted reverse proxy, the address it says it forwarded for.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().ok())
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(","));
        Ok(ClientIp(client_ip(
            peer,
            forwarded.as_deref(),
            &state.config.proxy.trusted,
        )))
    }
}

/// Who the client is, given the TCP peer, the `X-Forwarded-For` header (all of its lines, comma
/// joined) and the trusted proxies. Only a trusted peer's header counts; it is read from the
/// right (each proxy appends the address it received from), skipping trusted proxies, so a
/// client cannot choose its address by sending the header itself. Anything unparsable on the
/// way stops the walk at the last address known to be right.
pub fn client_ip(peer: IpAddr, forwarded: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    let canonical = |ip: IpAddr| ip.to_canonical();
    let peer = canonical(peer);
    if !trusted.iter().any(|t| canonical(*t) == peer) {
        return peer;
    }
    let Some(header) = forwarded else {
        return peer;
    };
    let mut client = peer;
    for hop in header.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>().map(canonical) else {
            break;
        };
        client = ip;
        if !trusted.iter().any(|t| canonical(*t) == ip) {
            break;
        }
    }
    client
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let limit = state.config.limits.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/password-policy", get(policy))
        .route("/v1/accounts", post(signup))
        .route("/v1/accounts/verify", post(verify_email))
        .route("/v1/accounts/verify/resend", post(resend))
        .route("/v1/prelogin", get(prelogin))
        .route("/v1/sessions", post(signin).get(list_sessions))
        .route("/v1/sessions/{id}", delete(revoke_session))
        .route("/v1/me", get(me).delete(delete_me))
        .route("/v1/me/password", put(change_password))
        .route("/v1/me/key-backup", get(key_backup))
        .route("/v1/me/identity", put(publish_identity))
        .route("/v1/me/totp", post(totp_enrol).delete(totp_disable))
        .route("/v1/me/totp/confirm", post(totp_confirm))
        .route("/v1/recovery", post(recovery_start))
        .route("/v1/recovery/verify", post(recovery_verify))
        .route("/v1/recovery/complete", post(recovery_complete))
        .route("/v1/directory", get(directory_by_email))
        .route("/v1/directory/{user_id}", get(directory_by_id))
        .route("/v1/meetings", post(create_meeting))
        .route("/v1/meetings/personal", get(personal_room))
        .route("/v1/meetings/upcoming", get(upcoming))
        .route("/v1/meetings/{code}", get(get_meeting))
        .route("/v1/meetings/{code}/join", post(join_meeting))
        .route("/v1/meetings/{code}/lock", post(lock_meeting))
        .route("/v1/meetings/{code}/remove", post(remove_member))
        .route("/v1/meetings/{code}/role", post(set_role))
        .route("/v1/meetings/{code}/end", post(end_meeting))
        .route("/v1/history", get(history))
        .route("/v1/admin/users", get(admin_users))
        .route("/v1/admin/users/{id}/disabled", post(admin_disable))
        .route("/v1/signal", get(crate::http_signaling::upgrade))
        .route("/v1/ice-servers", get(ice_servers))
        .merge(crate::http_recordings::routes())
        .merge(crate::http_kt::routes())
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    state
        .db
        .run(|c| -> ApiResult<()> { Ok(crate::db::ping(c)?) })
        .await?;
    Ok(Json(
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
    ))
}

async fn policy() -> Json<PasswordPolicy> {
    Json(PasswordPolicy {
        min_chars: password::MIN_CHARS,
        max_chars: password::MAX_CHARS,
        rules: vec![
            Rule::TooShort,
            Rule::TooLong,
            Rule::Common,
            Rule::Repetitive,
            Rule::Personal,
            Rule::Guessable,
        ],
    })
}

async fn signup(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SignupRequest>,
) -> ApiResult<(StatusCode, Json<SignupResponse>)> {
    Ok((
        StatusCode::CREATED,
        Json(accounts::signup(&s.accounts(), ip, req).await?),
    ))
}

async fn verify_email(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<EmailCode>,
) -> ApiResult<StatusCode> {
    accounts::verify_email(&s.accounts(), ip, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn resend(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<EmailOnly>,
) -> ApiResult<StatusCode> {
    accounts::resend_verification(&s.accounts(), ip, req).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailQuery {
    email: String,
}

async fn prelogin(
    State(s): State<AppState>,
    q: Result<Query<EmailQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Prelogin>> {
    let Query(q) = q.map_err(|_| ApiError::new(ErrorCode::InvalidEmail, "pass ?email="))?;
    Ok(Json(accounts::prelogin(&s.db, &s.secret, q.email).await?))
}

async fn signin(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SigninRequest>,
) -> ApiResult<(StatusCode, Json<SigninResponse>)> {
    Ok((
        StatusCode::CREATED,
        Json(sessions::signin(&s.sessions(), s.now(), ip, req).await?),
    ))
}

async fn list_sessions(
    State(s): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<Vec<SessionInfo>>> {
    Ok(Json(sessions::list(&s.db, &user).await?))
}

async fn revoke_session(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    sessions::revoke(&s.sessions(), &user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(s): State<AppState>, user: AuthUser) -> ApiResult<Json<Me>> {
    Ok(Json(accounts::me(&totp::account(&s.db, user.id).await?)))
}

async fn delete_me(
    State(s): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<Confirm>,
) -> ApiResult<StatusCode> {
    accounts::delete_account(&s.accounts(), user.id, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change_password(
    State(s): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<ChangePassword>,
) -> ApiResult<StatusCode> {
    accounts::change_password(&s.db, &s.sockets, user.id, user.session, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn key_backup(State(s): State<AppState>, user: AuthUser) -> ApiResult<Json<KeyBackupBody>> {
    Ok(Json(accounts::key_backup(&s.db, user.id).await?))
}

async fn publish_identity(
    State(s): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<PublishIdentity>,
) -> ApiResult<Json<serde_json::Value>> {
    let changed = directory::publish(&s.db, &s.kt, s.now(), user.id, req).await?;
    Ok(Json(json!({"changed": changed})))
}

async fn totp_enrol(State(s): State<AppState>, user: AuthUser) -> ApiResult<Json<TotpEnrolment>> {
    Ok(Json(
        totp::enrol(&s.db, totp::account(&s.db, user.id).await?).await?,
    ))
}

async fn totp_confirm(
    State(s): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<TotpCode>,
) -> ApiResult<StatusCode> {
    totp::confirm(&s.db, s.now(), totp::account(&s.db, user.id).await?, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn totp_disable(
    State(s): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<TotpCode>,
) -> ApiResult<StatusCode> {
    totp::disable(&s.db, s.now(), totp::account(&s.db, user.id).await?, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn recovery_start(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<EmailOnly>,
) -> ApiResult<StatusCode> {
    accounts::start_recovery(&s.accounts(), ip, req).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn recovery_verify(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<RecoveryVerify>,
) -> ApiResult<Json<RecoveryTicket>> {
    Ok(Json(
        accounts::verify_recovery(&s.accounts(), ip, req).await?,
    ))
}

async fn recovery_complete(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<RecoveryComplete>,
) -> ApiResult<(StatusCode, Json<SigninResponse>)> {
    Ok((
        StatusCode::CREATED,
        Json(accounts::complete_recovery(&s.accounts(), req).await?),
    ))
}

async fn directory_by_id(
    State(s): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<DirectoryEntry>> {
    let id: UserId = id.parse().map_err(|_| ApiError::not_found())?;
    Ok(Json(directory::by_id(&s.db, id).await?))
}

async fn directory_by_email(
    State(s): State<AppState>,
    _user: AuthUser,
    q: Result<Query<EmailQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<DirectoryEntry>> {
    let Query(q) = q.map_err(|_| ApiError::new(ErrorCode::InvalidEmail, "pass ?email="))?;
    Ok(Json(directory::by_email(&s.db, q.email).await?))
}

async fn create_meeting(
    State(s): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<CreateMeeting>,
) -> ApiResult<(StatusCode, Json<Meeting>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            meetings::create(
                &s.db,
                &meetings::Invitations {
                    mailer: &s.mailer,
                    public_url: &s.config.public_url,
                },
                s.now(),
                user.id,
                req,
            )
            .await?,
        ),
    ))
}

async fn personal_room(State(s): State<AppState>, user: AuthUser) -> ApiResult<Json<Meeting>> {
    Ok(Json(meetings::personal(&s.db, s.now(), user.id).await?))
}

async fn upcoming(State(s): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<Meeting>>> {
    Ok(Json(meetings::upcoming(&s.db, s.now(), user.id).await?))
}

async fn get_meeting(
    State(s): State<AppState>,
    user: AuthUser,
    Path(code): Path<String>,
) -> ApiResult<Json<Meeting>> {
    Ok(Json(meetings::get(&s.db, user.id, code).await?))
}

async fn join_meeting(
    State(s): State<AppState>,
    user: AuthUser,
    Path(code): Path<String>,
) -> ApiResult<Json<Meeting>> {
    Ok(Json(meetings::join(&s.db, user.id, code).await?))
}

async fn lock_meeting(
    State(s): State<AppState>,
    user: AuthUser,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<LockMeeting>,
) -> ApiResult<StatusCode> {
    s.hub
        .apply(meetings::lock(&s.db, user.id, code, req.locked).await?);
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    State(s): State<AppState>,
    user: AuthUser,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<MemberRef>,
) -> ApiResult<StatusCode> {
    s.hub
        .apply(meetings::remove(&s.db, user.id, code, req.user_id).await?);
    Ok(StatusCode::NO_CONTENT)
}

async fn set_role(
    State(s): State<AppState>,
    user: AuthUser,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<SetRole>,
) -> ApiResult<StatusCode> {
    s.hub
        .apply(meetings::set_role(&s.db, user.id, code, req.user_id, req.role).await?);
    Ok(StatusCode::NO_CONTENT)
}

async fn end_meeting(
    State(s): State<AppState>,
    user: AuthUser,
    Path(code): Path<String>,
) -> ApiResult<StatusCode> {
    s.hub
        .apply(meetings::end(&s.db, s.now(), user.id, code).await?);
    Ok(StatusCode::NO_CONTENT)
}

async fn history(State(s): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<CallHistory>>> {
    Ok(Json(history::for_user(&s.db, user.id).await?))
}

async fn admin_users(State(s): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<AdminUser>>> {
    Ok(Json(admin::list(&s.db, &user).await?))
}

async fn admin_disable(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SetDisabled>,
) -> ApiResult<StatusCode> {
    let id: UserId = id.parse().map_err(|_| ApiError::not_found())?;
    admin::set_disabled(&s.db, &s.sockets, &user, id, req.disabled).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn ice_servers(State(s): State<AppState>, user: AuthUser) -> Json<crate::turn::IceServers> {
    Json(s.config.turn.ice_servers(&user.id, s.now()))
}

/// The user behind `Authorization: Bearer <token>`, for the handlers that need one.
impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthenticated)?;
        sessions::authenticate(&state.db, state.now(), token).await
    }
}

#[cfg(test)]
mod tests {
    use super::client_ip;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted = [ip("127.0.0.1"), ip("10.0.0.2")];
        let direct = ip("192.0.2.1");
        // No proxy trusted, or an untrusted peer: the peer.
        assert_eq!(client_ip(direct, Some("198.51.100.7"), &[]), direct);
        assert_eq!(client_ip(direct, Some("198.51.100.7"), &trusted), direct);
        // A trusted peer: the right-most untrusted hop.
        let p = ip("127.0.0.1");
        assert_eq!(client_ip(p, None, &trusted), p);
        assert_eq!(
            client_ip(p, Some("198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(p, Some("6.6.6.6, 198.51.100.7, 10.0.0.2"), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(p, Some(" 2001:db8::1 "), &trusted),
            ip("2001:db8::1")
        );
        // Garbage stops the walk at the last address known to be right.
        assert_eq!(client_ip(p, Some("198.51.100.7, junk"), &trusted), p);
        assert_eq!(
            client_ip(p, Some("junk, 198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
        // IPv4-mapped IPv6 peers match their IPv4 form.
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), Some("198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
    }
}
