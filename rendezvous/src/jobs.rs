//! The server's periodic jobs, above the services they call: the recordings whose retention
//! ended are deleted, and accounts never verified expire.

use crate::state::AppState;

/// Run the jobs every `interval` until the process ends.
pub fn spawn(state: AppState, interval: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            if let Err(e) = crate::recordings::expire(&state.registry(), state.now()).await {
                tracing::warn!("retention job: {e}");
            }
            if let Err(e) = crate::accounts::expire_unverified(&state.db, state.now()).await {
                tracing::warn!("unverified accounts job: {e}");
            }
        }
    });
}
