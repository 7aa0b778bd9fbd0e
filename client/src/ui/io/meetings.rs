//! Meetings: new, found by code, scheduled, the personal room, what Home lists; host actions.

use super::*;

pub async fn new_meeting(dir: PathBuf) -> Result<MeetingCard, String> {
    let (api, account) = async move { open(&dir)?.api().map_err(|e| e.to_string()) }.await?;
    let title = format!("{}'s meeting", account.display_name);
    let code = assent_engine::create_meeting(&api, &title)
        .await
        .map_err(|e| e.to_string())?;
    Ok(MeetingCard {
        code,
        title,
        created: true,
    })
}

/// Check that the server admits us to the meeting behind `code`.
pub async fn find_meeting(dir: PathBuf, code: String) -> Result<MeetingCard, String> {
    let (api, _) = async move { open(&dir)?.api().map_err(|e| e.to_string()) }.await?;
    let m = api.join_meeting(&code).await.map_err(|e| match e.code() {
        Some(ErrorCode::NotFound) => format!("No meeting has the code {code}."),
        _ => e.to_string(),
    })?;
    Ok(MeetingCard {
        code: m.code,
        title: m.title,
        created: false,
    })
}

/// What the home screen lists.
#[derive(Debug, Clone)]
pub struct Overview {
    pub upcoming: Vec<assent_shared::api::Meeting>,
    pub history: Vec<assent_shared::api::CallHistory>,
    /// Every alarm the key directory checks have raised on this device (the check of our own
    /// key's history just run included), as sentences.
    pub alarms: Vec<String>,
}

pub async fn overview(dir: PathBuf) -> Result<Overview, String> {
    // The directory check first: the server's keys against the pin, its newest root against
    // every root kept, our own key history against the keys this device held.
    let (api, alarms) = async move {
        let profile = open(&dir)?;
        let (api, account) = profile.api().map_err(|e| e.to_string())?;
        // A check that cannot run (the server unreachable) raises nothing; one that finds
        // something wrong keeps it as an alarm, read back here either way.
        let _ = profile.checkup(&api, &account.email).await;
        let alarms = profile
            .store
            .alarms()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|a| a.detail)
            .collect::<Vec<_>>();
        Ok::<_, String>((api, alarms))
    }
    .await?;
    let upcoming = api.upcoming().await.map_err(|e| e.to_string())?;
    let history = api.history().await.map_err(|e| e.to_string())?;
    Ok(Overview {
        upcoming,
        history,
        alarms,
    })
}

pub async fn schedule(
    dir: PathBuf,
    request: assent_shared::api::CreateMeeting,
) -> Result<MeetingCard, String> {
    let (api, _) = async move { open(&dir)?.api().map_err(|e| e.to_string()) }.await?;
    let m = api
        .create_meeting(&request)
        .await
        .map_err(|e| e.to_string())?;
    Ok(MeetingCard {
        code: m.code,
        title: m.title,
        created: true,
    })
}

pub async fn personal_room(dir: PathBuf) -> Result<MeetingCard, String> {
    let (api, _) = async move { open(&dir)?.api().map_err(|e| e.to_string()) }.await?;
    let m = api.personal_room().await.map_err(|e| e.to_string())?;
    Ok(MeetingCard {
        code: m.code,
        title: m.title,
        created: false,
    })
}

/// The meeting as the server sees it (host, locked, our role).
pub async fn meeting_info(
    dir: PathBuf,
    code: String,
) -> Result<assent_shared::api::Meeting, String> {
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        api.meeting(&code).await.map_err(|e| e.to_string())
    }
    .await
}

/// A host action on the meeting `code`.
pub async fn host_action(
    dir: PathBuf,
    code: String,
    action: crate::ui::room::HostAction,
) -> Result<(), String> {
    use crate::ui::room::HostAction;
    async move {
        let (api, _) = open(&dir)?.api().map_err(|e| e.to_string())?;
        match action {
            HostAction::Lock(locked) => api.lock_meeting(&code, locked).await,
            HostAction::End => api.end_meeting(&code).await,
            HostAction::Remove(user) => api.remove_member(&code, user).await,
            HostAction::MakeCohost(user) => {
                api.set_role(&code, user, assent_shared::api::MeetingRole::Cohost)
                    .await
            }
        }
        .map_err(|e| e.to_string())
    }
    .await
}
