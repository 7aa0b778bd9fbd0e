//! Recordings: the ones on this device and the cloud copies of calls this account took part in,
//! as one list: title, date, duration, participants, tags, size, where the copies are (with
//! the upload's progress), how long the cloud keeps it; search and a tag filter; open,
//! upload, download and delete.

use assent_engine::store::RecordingRow;
use assent_shared::api::RecordingInfo;
use iced::widget::{
    button, column, container, progress_bar, row, scrollable, space, text, text_input,
};
use iced::{Center, Element, Fill};
use jiff::tz::TimeZone;

use super::{style, time};

/// The search field's id (focused when the screen opens).
pub const SEARCH: &str = "recordings-search";

/// Where the cloud copy is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cloud {
    /// Kept on this device only (the consent said so).
    NotKept,
    /// Waiting to be uploaded, or being uploaded: bytes stored so far of the total.
    Uploading { done: u64, total: u64 },
    /// The last attempt failed (the uploader retries).
    Failed(String),
    /// Complete in the cloud.
    Stored,
}

/// One recording, whatever copies of it exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub started_at: u64,
    pub duration_ms: Option<u64>,
    pub participants: Vec<String>,
    pub tags: Vec<String>,
    pub size: u64,
    /// The copy on this device: its directory and state (`recording`, `complete`,
    /// `incomplete`).
    pub local: Option<(String, String)>,
    pub cloud: Option<Cloud>,
    /// When the cloud copy is deleted (Unix ms).
    pub keep_until: Option<u64>,
    /// Whether this account may delete the cloud copy (the recorder or an admin).
    pub can_delete_cloud: bool,
}

impl Item {
    fn matches(&self, words: &[String], tag: Option<&str>) -> bool {
        if tag.is_some_and(|t| !self.tags.iter().any(|x| x == t)) {
            return false;
        }
        let haystack = format!(
            "{} {} {}",
            self.title,
            self.participants.join(" "),
            self.tags.join(" ")
        )
        .to_lowercase();
        words.iter().all(|w| haystack.contains(w.as_str()))
    }
}

/// One list from the local store's rows and the server's registry: a recording on both is one
/// item (local facts first, the registry adds the retention date and the delete right); one
/// only in the registry is a cloud copy to download. Newest first.
pub fn merge(local: Vec<RecordingRow>, cloud: Vec<RecordingInfo>) -> Vec<Item> {
    let mut items: Vec<Item> = local
        .into_iter()
        .map(|r| {
            let cloud = if r.scope != "local_and_cloud" {
                Cloud::NotKept
            } else if r.cloud_state == "complete" {
                Cloud::Stored
            } else if r.cloud_state == "failed" {
                Cloud::Failed("the last upload attempt failed; it is retried".into())
            } else {
                Cloud::Uploading {
                    done: r.uploaded_bytes,
                    total: r.size,
                }
            };
            Item {
                duration_ms: r.ended_at.map(|e| e.saturating_sub(r.started_at)),
                keep_until: None,
                can_delete_cloud: false,
                id: r.id,
                title: r.title,
                started_at: r.started_at,
                participants: r.participants,
                tags: r.tags,
                size: r.size,
                local: Some((r.dir, r.state)),
                cloud: Some(cloud),
            }
        })
        .collect();
    for info in cloud {
        let id = info.id.to_string();
        let stored = info.status == "complete";
        match items.iter_mut().find(|i| i.id == id) {
            Some(item) => {
                item.keep_until = info.retention_until;
                item.can_delete_cloud = info.can_delete;
                // A downloaded copy knows its people from the registry only.
                if item.participants.is_empty() {
                    item.participants = info
                        .participants
                        .iter()
                        .map(|p| p.display_name.clone())
                        .collect();
                }
                if stored {
                    item.cloud = Some(Cloud::Stored);
                }
                for t in info.tags {
                    if !item.tags.contains(&t) {
                        item.tags.push(t);
                    }
                }
            }
            None => items.push(Item {
                id,
                title: info.title,
                started_at: info.created_at,
                duration_ms: None,
                participants: info
                    .participants
                    .into_iter()
                    .map(|p| p.display_name)
                    .collect(),
                tags: info.tags,
                size: info.size,
                local: None,
                cloud: Some(if stored {
                    Cloud::Stored
                } else {
                    Cloud::Uploading {
                        done: info.objects.iter().map(|o| o.size).sum(),
                        total: info.size,
                    }
                }),
                keep_until: info.retention_until,
                can_delete_cloud: info.can_delete,
            }),
        }
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.started_at));
    items
}

#[derive(Debug, Clone)]
pub enum Message {
    Search(String),
    /// Show only recordings with this tag (None: all).
    Tag(Option<String>),
    Open(String),
    /// Open the first recording the search lets through (Enter in the search field).
    OpenFirst,
    Upload(String),
    Download(String),
    /// Ask to delete (a confirmation follows).
    Delete(String),
    ConfirmDelete,
    CancelDelete,
    /// Edit a recording's tags (a field with them opens on its card).
    EditTags(String),
    TagsInput(String),
    SaveTags,
    CancelTags,
    Refresh,
    Back,
    // The answers to what the app asked for.
    /// The list (and why the cloud copies could not be listed, if so).
    Loaded(Result<(Vec<Item>, Option<String>), String>),
    /// An action finished: what to tell the user (the list is reloaded).
    Done(Result<String, String>),
    /// A recording opened for the viewer, or why not.
    Opened(Result<Box<super::viewer::Opened>, String>),
}

/// The tags field, while open.
pub const TAGS: iced::widget::Id = iced::widget::Id::new("recordings-tags");

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Open the local copy in the viewer.
    Open {
        id: String,
        dir: String,
    },
    Upload(String),
    Download(String),
    /// Delete: the local copy if there is one, the cloud copy if allowed.
    Delete {
        id: String,
        local: bool,
        cloud: bool,
    },
    /// Set the tags of a recording (normalised already).
    SetTags {
        id: String,
        tags: Vec<String>,
    },
    Refresh,
    Back,
    /// A recording is open: on to the viewer.
    Opened(Box<super::viewer::Opened>),
}

/// A recording's tags being edited: which, what the field holds, and what is wrong with it.
#[derive(Debug, Clone)]
struct TagEdit {
    id: String,
    input: String,
    error: Option<String>,
}

/// What a delete would remove, for the confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingDelete {
    id: String,
    local: bool,
    cloud: bool,
}

#[derive(Debug)]
pub struct Recordings {
    items: Vec<Item>,
    search: String,
    tag: Option<String>,
    confirm: Option<PendingDelete>,
    editing: Option<TagEdit>,
    /// Set while the list is being fetched.
    loading: bool,
    error: Option<String>,
    notice: Option<String>,
    tz: TimeZone,
}

impl Recordings {
    pub fn new(tz: TimeZone) -> Recordings {
        Recordings {
            items: Vec::new(),
            search: String::new(),
            tag: None,
            confirm: None,
            editing: None,
            loading: true,
            error: None,
            notice: None,
            tz,
        }
    }

    /// The list arrived (or could not be fetched). A cloud failure still shows the local
    /// recordings, with the reason.
    fn on_loaded(&mut self, items: Vec<Item>, cloud_error: Option<String>) {
        self.items = items;
        self.loading = false;
        self.error = cloud_error.map(|e| format!("Cloud copies not shown: {e}"));
        if self.tag.as_ref().is_some_and(|t| !self.tags().contains(t)) {
            self.tag = None;
        }
    }

    fn on_error(&mut self, error: String) {
        self.loading = false;
        self.error = Some(error);
    }

    /// How many recordings there are, once loaded.
    pub fn count(&self) -> Option<usize> {
        (!self.loading || !self.items.is_empty()).then_some(self.items.len())
    }

    /// Whether an upload is in flight (the list is refreshed while one is).
    pub fn uploading(&self) -> bool {
        self.items.iter().any(|i| {
            i.local.is_some() && matches!(i.cloud, Some(Cloud::Uploading { .. } | Cloud::Failed(_)))
        })
    }

    /// Every tag in use, sorted.
    pub fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self.items.iter().flat_map(|i| i.tags.clone()).collect();
        tags.sort();
        tags.dedup();
        tags
    }

    /// The items the search and the tag filter let through.
    pub fn visible(&self) -> Vec<&Item> {
        let words: Vec<String> = self
            .search
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        self.items
            .iter()
            .filter(|i| i.matches(&words, self.tag.as_deref()))
            .collect()
    }

    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Search(s) => {
                self.search = s;
                None
            }
            Message::Tag(t) => {
                self.tag = t;
                None
            }
            Message::Open(id) => {
                let item = self.items.iter().find(|i| i.id == id)?;
                let (dir, _) = item.local.clone()?;
                self.notice = Some("Opening…".into());
                Some(Event::Open { id, dir })
            }
            Message::OpenFirst => {
                let id = self
                    .visible()
                    .into_iter()
                    .find(|i| i.local.is_some())
                    .map(|i| i.id.clone())?;
                self.update(Message::Open(id))
            }
            Message::Upload(id) => {
                self.notice = Some("Uploading…".into());
                Some(Event::Upload(id))
            }
            Message::Download(id) => {
                self.notice = Some("Downloading…".into());
                Some(Event::Download(id))
            }
            Message::Delete(id) => {
                let item = self.items.iter().find(|i| i.id == id)?;
                let local = item
                    .local
                    .as_ref()
                    .is_some_and(|(_, state)| state != "recording");
                let cloud = item.can_delete_cloud && item.cloud.is_some();
                if local || cloud {
                    self.confirm = Some(PendingDelete { id, local, cloud });
                }
                None
            }
            Message::EditTags(id) => {
                let item = self.items.iter().find(|i| i.id == id)?;
                self.editing = Some(TagEdit {
                    input: item.tags.join(", "),
                    id,
                    error: None,
                });
                None
            }
            Message::TagsInput(s) => {
                if let Some(e) = &mut self.editing {
                    e.input = s;
                    e.error = None;
                }
                None
            }
            Message::CancelTags => {
                self.editing = None;
                None
            }
            Message::SaveTags => {
                let edit = self.editing.as_mut()?;
                let words = assent_shared::api::split_tags(&edit.input);
                match assent_shared::api::normalize_tags(&words) {
                    Ok(tags) => {
                        let id = edit.id.clone();
                        self.editing = None;
                        self.notice = None;
                        Some(Event::SetTags { id, tags })
                    }
                    Err(why) => {
                        edit.error = Some(why);
                        None
                    }
                }
            }
            Message::ConfirmDelete => {
                let p = self.confirm.take()?;
                Some(Event::Delete {
                    id: p.id,
                    local: p.local,
                    cloud: p.cloud,
                })
            }
            Message::CancelDelete => {
                self.confirm = None;
                None
            }
            Message::Refresh => {
                if self.loading {
                    return None;
                }
                self.loading = true;
                Some(Event::Refresh)
            }
            Message::Back => Some(Event::Back),
            Message::Loaded(Ok((items, cloud_error))) => {
                self.on_loaded(items, cloud_error);
                None
            }
            Message::Loaded(Err(e)) => {
                self.on_error(e);
                None
            }
            Message::Done(Ok(notice) | Err(notice)) => {
                self.notice = Some(notice);
                Some(Event::Refresh)
            }
            Message::Opened(Ok(opened)) => Some(Event::Opened(opened)),
            Message::Opened(Err(e)) => {
                self.notice = Some(e);
                None
            }
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let header = row![
            button(text("← Home"))
                .style(button::secondary)
                .on_press(Message::Back),
            text("Recordings").size(26),
            space::horizontal(),
            button(text("Refresh"))
                .style(button::secondary)
                .on_press_maybe((!self.loading).then_some(Message::Refresh)),
        ]
        .spacing(16)
        .align_y(Center);
        let search = text_input(
            "Search titles, people and tags (Enter opens the first)",
            &self.search,
        )
        .id(SEARCH)
        .on_input(Message::Search)
        .on_submit(Message::OpenFirst)
        .padding(8);
        let mut tags = row![chip("All", self.tag.is_none(), Message::Tag(None))].spacing(6);
        for t in self.tags() {
            let on = self.tag.as_deref() == Some(t.as_str());
            tags = tags.push(chip(&format!("#{t}"), on, Message::Tag(Some(t.clone()))));
        }
        let mut body = column![header, search, tags].spacing(14).width(820);
        if let Some(e) = &self.error {
            body = body.push(text(e.as_str()).style(text::danger));
        }
        if let Some(n) = &self.notice {
            body = body.push(text(n.as_str()).style(style::muted));
        }
        if let Some(p) = &self.confirm {
            body = body.push(self.confirmation(p));
        }
        let visible = self.visible();
        if self.loading && self.items.is_empty() {
            body = body.push(text("Loading…").style(style::muted));
        } else if self.items.is_empty() {
            body = body.push(
                text("No recordings yet. Record a call (everyone must agree) and it appears here.")
                    .style(style::muted),
            );
        } else if visible.is_empty() {
            body = body.push(text("Nothing matches.").style(style::muted));
        } else {
            body = body.push(
                text(match self.items.len() {
                    1 => format!("{} of 1 recording", visible.len()),
                    n => format!("{} of {n} recordings", visible.len()),
                })
                .size(13)
                .style(style::muted),
            );
        }
        for item in visible {
            body = body.push(self.card(item));
        }
        container(scrollable(container(body).center_x(Fill).padding(24)))
            .height(Fill)
            .into()
    }

    fn confirmation(&self, p: &PendingDelete) -> Element<'_, Message> {
        let item = self.items.iter().find(|i| i.id == p.id);
        let title = item.map(|i| i.title.as_str()).unwrap_or("this recording");
        let only_copy = p.local
            && !p.cloud
            && !matches!(item.and_then(|i| i.cloud.as_ref()), Some(Cloud::Stored));
        let what = match (p.local, p.cloud) {
            (true, true) => "the copy on this device and the cloud copy (for everyone)",
            (true, false) => "the copy on this device",
            (false, _) => "the cloud copy (for everyone who took part)",
        };
        let mut c = column![
            text(format!("Delete “{title}”?")).size(18),
            text(format!("This deletes {what}. It cannot be undone.")),
        ]
        .spacing(8);
        if only_copy {
            c = c.push(text("There is no cloud copy: this is the only copy.").style(text::danger));
        }
        c = c.push(
            row![
                space::horizontal(),
                button(text("Cancel"))
                    .style(button::secondary)
                    .on_press(Message::CancelDelete),
                button(text("Delete"))
                    .style(button::danger)
                    .on_press(Message::ConfirmDelete),
            ]
            .spacing(8),
        );
        style::card(c)
    }

    fn card<'a>(&'a self, item: &'a Item) -> Element<'a, Message> {
        let when = time::when(item.started_at, &self.tz);
        let length = item
            .duration_ms
            .map(time::duration)
            .unwrap_or_else(|| "length unknown".into());
        let mut facts = vec![when, length, human_size(item.size)];
        if let Some((_, state)) = &item.local {
            facts.push(
                match state.as_str() {
                    "recording" => "recording now",
                    "incomplete" => "incomplete (interrupted; what was kept verifies)",
                    _ => "on this device",
                }
                .into(),
            );
        }
        let mut c = column![
            row![
                text(item.title.as_str()).size(18),
                space::horizontal(),
                text(facts.join(" · ")).size(13).style(style::muted),
            ]
            .spacing(12)
            .align_y(Center),
        ]
        .spacing(6);
        if !item.participants.is_empty() {
            c = c.push(text(format!("With {}", item.participants.join(", "))).size(14));
        }
        match &self.editing {
            Some(edit) if edit.id == item.id => {
                c = c.push(
                    row![
                        text_input("Tags, separated by commas", &edit.input)
                            .id(TAGS)
                            .on_input(Message::TagsInput)
                            .on_submit(Message::SaveTags)
                            .padding(6),
                        button(text("Save")).on_press(Message::SaveTags),
                        button(text("Cancel"))
                            .style(button::secondary)
                            .on_press(Message::CancelTags),
                    ]
                    .spacing(8)
                    .align_y(Center),
                );
                if let Some(why) = &edit.error {
                    c = c.push(text(why.as_str()).size(13).style(text::danger));
                }
            }
            _ if !item.tags.is_empty() => {
                c = c.push(
                    text(assent_shared::api::hashtags(&item.tags))
                        .size(13)
                        .style(style::muted),
                );
            }
            _ => {}
        }
        let cloud_line: Element<'_, Message> = match &item.cloud {
            None | Some(Cloud::NotKept) => text("Kept on this device only")
                .size(13)
                .style(style::muted)
                .into(),
            Some(Cloud::Stored) => text(match item.keep_until {
                Some(t) => format!("In the cloud until {}", time::when(t, &self.tz)),
                None => "In the cloud".into(),
            })
            .size(13)
            .style(style::muted)
            .into(),
            Some(Cloud::Uploading { done, total }) => {
                let fraction = if *total == 0 {
                    0.0
                } else {
                    (*done as f32 / *total as f32).clamp(0.0, 1.0)
                };
                row![
                    text(format!(
                        "Cloud copy: {} of {}",
                        human_size(*done),
                        human_size(*total)
                    ))
                    .size(13)
                    .width(220),
                    progress_bar(0.0..=1.0, fraction).girth(8),
                ]
                .spacing(12)
                .align_y(Center)
                .into()
            }
            Some(Cloud::Failed(why)) => text(format!("Cloud copy: {why}"))
                .size(13)
                .style(text::danger)
                .into(),
        };
        c = c.push(cloud_line);
        let mut actions = row![].spacing(8);
        if item.local.is_some() {
            actions = actions.push(button(text("Open")).on_press(Message::Open(item.id.clone())));
        } else if matches!(item.cloud, Some(Cloud::Stored)) {
            actions =
                actions.push(button(text("Download")).on_press(Message::Download(item.id.clone())));
        }
        if item.local.is_some()
            && matches!(item.cloud, Some(Cloud::Uploading { .. } | Cloud::Failed(_)))
        {
            actions = actions.push(
                button(text("Upload now"))
                    .style(button::secondary)
                    .on_press(Message::Upload(item.id.clone())),
            );
        }
        let deletable = item.local.as_ref().is_some_and(|(_, s)| s != "recording")
            || (item.can_delete_cloud && item.cloud.is_some());
        actions = actions.push(
            button(text("Edit tags"))
                .style(button::secondary)
                .on_press(Message::EditTags(item.id.clone())),
        );
        actions = actions.push(space::horizontal());
        actions = actions.push(
            button(text("Delete…"))
                .style(button::danger)
                .on_press_maybe(deletable.then(|| Message::Delete(item.id.clone()))),
        );
        c = c.push(actions);
        style::card(c)
    }
}

fn chip<'a>(label: &str, on: bool, message: Message) -> Element<'a, Message> {
    button(text(label.to_string()).size(13))
        .padding([4, 10])
        .style(if on {
            button::primary
        } else {
            button::secondary
        })
        .on_press(message)
        .into()
}

/// Bytes for people: 1.2 MB, 340 kB, 12 B.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assent_shared::api::{RecordingObject, RecordingPerson};
    use assent_shared::ids::{CallId, RecordingId, UserId};

    const DAY: u64 = 86_400_000;
    const T: u64 = 1_795_000_000_000;

    fn row(id: &RecordingId, title: &str, at: u64, tags: &[&str], cloud: &str) -> RecordingRow {
        RecordingRow {
            id: id.to_string(),
            title: title.into(),
            dir: format!("/profile/recordings/{id}"),
            call_id: CallId::random().to_string(),
            started_at: at,
            ended_at: Some(at + 754_000),
            participants: vec!["Ada".into(), "Grace".into()],
            tags: tags.iter().map(|t| t.to_string()).collect(),
            size: 48_000_000,
            segments: 12,
            state: "complete".into(),
            scope: if cloud == "none" {
                "local".into()
            } else {
                "local_and_cloud".into()
            },
            retention_days: 30,
            cloud_state: cloud.into(),
            uploaded_bytes: if cloud == "uploading" { 12_000_000 } else { 0 },
        }
    }

    fn info(id: &RecordingId, title: &str, at: u64, status: &str) -> RecordingInfo {
        RecordingInfo {
            id: *id,
            call_id: CallId::random(),
            title: title.into(),
            recorder: UserId::random(),
            status: status.into(),
            retention_days: 30,
            retention_until: Some(at + 30 * DAY),
            size: 20_000_000,
            created_at: at,
            completed_at: Some(at + DAY),
            participants: vec![RecordingPerson {
                user_id: UserId::random(),
                display_name: "Linus".into(),
            }],
            tags: vec!["board".into()],
            objects: vec![RecordingObject {
                name: "manifest".into(),
                size: 5_000_000,
            }],
            can_delete: false,
        }
    }

    /// Three local recordings (one only on this device, one uploading, one stored) and the
    /// registry's view: the stored one gains its retention date, another person's recording
    /// appears as a cloud copy to download; newest first.
    fn sample() -> Recordings {
        let (a, b, c, d) = (
            RecordingId::random(),
            RecordingId::random(),
            RecordingId::random(),
            RecordingId::random(),
        );
        let local = vec![
            row(&a, "Design review", T, &["design"], "none"),
            row(&b, "Weekly sync", T + DAY, &["team", "weekly"], "uploading"),
            row(&c, "Interview: Grace", T + 2 * DAY, &["hiring"], "pending"),
        ];
        let mut stored = info(&c, "Interview: Grace", T + 2 * DAY, "complete");
        stored.can_delete = true;
        let cloud = vec![stored, info(&d, "Board meeting", T + 3 * DAY, "complete")];
        let mut r = Recordings::new(TimeZone::UTC);
        r.on_loaded(merge(local, cloud), None);
        r
    }

    #[test]
    fn local_and_cloud_copies_merge_into_one_list() {
        let r = sample();
        let titles: Vec<&str> = r.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Board meeting",
                "Interview: Grace",
                "Weekly sync",
                "Design review"
            ]
        );
        let board = &r.items[0];
        assert!(board.local.is_none());
        assert_eq!(board.cloud, Some(Cloud::Stored));
        assert_eq!(board.participants, ["Linus"]);
        let interview = &r.items[1];
        assert_eq!(
            interview.cloud,
            Some(Cloud::Stored),
            "the registry says complete"
        );
        assert_eq!(interview.keep_until, Some(T + 32 * DAY));
        assert!(interview.can_delete_cloud);
        assert!(interview.tags.contains(&"board".to_string()), "tags merged");
        assert_eq!(
            r.items[2].cloud,
            Some(Cloud::Uploading {
                done: 12_000_000,
                total: 48_000_000
            })
        );
        assert_eq!(r.items[3].cloud, Some(Cloud::NotKept));
        assert!(r.uploading());
        assert_eq!(r.tags(), ["board", "design", "hiring", "team", "weekly"]);
    }

    /// The recordings list filter: search words (any case, in titles, people or tags, all of
    /// them) and a tag chip, combined; the count says how many of how many show.
    #[test]
    fn search_and_tag_filter_narrow_the_list() {
        let mut r = sample();
        {
            let mut ui = iced_test::simulator(r.view());
            assert!(ui.find("4 of 4 recordings").is_ok());
            assert!(ui.find("Board meeting").is_ok());
            assert!(ui.find("#weekly").is_ok(), "a chip per tag");
        }
        let _ = r.update(Message::Search("GRACE".into()));
        let titles = |r: &Recordings| -> Vec<String> {
            r.visible().iter().map(|i| i.title.clone()).collect()
        };
        // Grace is in the interview's title and a participant of every local recording.
        assert_eq!(titles(&r).len(), 3);
        let _ = r.update(Message::Search("grace weekly".into()));
        assert_eq!(titles(&r), ["Weekly sync"]);
        let _ = r.update(Message::Search(String::new()));

        // Clicking a tag chip in the simulator filters by it.
        let messages: Vec<Message> = {
            let mut ui = iced_test::simulator(r.view());
            ui.click("#board").unwrap();
            ui.into_messages().collect()
        };
        for m in messages {
            let _ = r.update(m);
        }
        assert_eq!(titles(&r), ["Board meeting", "Interview: Grace"]);
        let _ = r.update(Message::Search("linus".into()));
        assert_eq!(titles(&r), ["Board meeting"]);
        {
            let mut ui = iced_test::simulator(r.view());
            assert!(ui.find("1 of 4 recordings").is_ok());
            assert!(ui.find("Download").is_ok(), "a cloud-only copy downloads");
        }
        let _ = r.update(Message::Search("nobody".into()));
        {
            let mut ui = iced_test::simulator(r.view());
            assert!(ui.find("Nothing matches.").is_ok());
        }
        let _ = r.update(Message::Tag(None));
        let _ = r.update(Message::Search(String::new()));
        assert_eq!(titles(&r).len(), 4);
        // A reload without the selected tag clears the filter instead of showing nothing.
        let _ = r.update(Message::Tag(Some("design".into())));
        r.on_loaded(Vec::new(), None);
        assert_eq!(r.tag, None);
    }

    /// Editing tags: the card's field holds the current ones; saving hands the engine the
    /// tags normalised (commas or #words, each once); a tag too long is refused on the spot.
    #[test]
    fn tags_are_edited_on_the_card() {
        let mut r = sample();
        let design = r.items[3].id.clone();
        let messages: Vec<Message> = {
            let mut ui = iced_test::Simulator::with_size(
                iced::Settings::default(),
                (1280.0, 1600.0),
                r.view(),
            );
            // The last card's button: Design review, the oldest.
            ui.click("Edit tags").unwrap();
            ui.into_messages().collect()
        };
        assert_eq!(messages.len(), 1);
        let Message::EditTags(first) = &messages[0] else {
            panic!("{messages:?}")
        };
        let _ = r.update(Message::EditTags(design.clone()));
        assert!(!first.is_empty());
        {
            let mut ui = iced_test::Simulator::with_size(
                iced::Settings::default(),
                (1280.0, 1600.0),
                r.view(),
            );
            assert!(ui.find("Save").is_ok());
        }
        assert_eq!(r.editing.as_ref().unwrap().input, "design");
        let _ = r.update(Message::TagsInput("#design #Q3 #q3 #review".into()));
        assert_eq!(
            r.update(Message::SaveTags),
            Some(Event::SetTags {
                id: design.clone(),
                tags: vec!["design".into(), "Q3".into(), "review".into()],
            })
        );
        assert!(r.editing.is_none(), "the field closes");
        // Too long: the field stays open and says why.
        let _ = r.update(Message::EditTags(design.clone()));
        let _ = r.update(Message::TagsInput(format!("ok, {}", "x".repeat(41))));
        assert_eq!(r.update(Message::SaveTags), None);
        {
            let mut ui = iced_test::Simulator::with_size(
                iced::Settings::default(),
                (1280.0, 1600.0),
                r.view(),
            );
            assert!(ui.find("a tag is at most 40 characters").is_ok());
        }
        // Cancel closes it; clearing the field removes every tag.
        assert_eq!(r.update(Message::CancelTags), None);
        assert!(r.editing.is_none());
        let _ = r.update(Message::EditTags(design.clone()));
        let _ = r.update(Message::TagsInput(String::new()));
        assert_eq!(
            r.update(Message::SaveTags),
            Some(Event::SetTags {
                id: design,
                tags: vec![],
            })
        );
    }

    /// Deleting asks first, says what goes (and when it is the only copy), and only then
    /// asks the engine; a recording in progress cannot be deleted.
    #[test]
    fn delete_asks_and_warns_about_the_only_copy() {
        let mut r = sample();
        let design = r.items[3].id.clone();
        assert_eq!(r.update(Message::Delete(design.clone())), None);
        {
            let mut ui = iced_test::simulator(r.view());
            assert!(ui.find("Delete “Design review”?").is_ok());
            assert!(
                ui.find("There is no cloud copy: this is the only copy.")
                    .is_ok()
            );
        }
        assert_eq!(r.update(Message::CancelDelete), None);
        let _ = r.update(Message::Delete(design.clone()));
        assert_eq!(
            r.update(Message::ConfirmDelete),
            Some(Event::Delete {
                id: design,
                local: true,
                cloud: false
            })
        );
        // The interview: both copies may go.
        let interview = r.items[1].id.clone();
        let _ = r.update(Message::Delete(interview.clone()));
        assert_eq!(
            r.update(Message::ConfirmDelete),
            Some(Event::Delete {
                id: interview,
                local: true,
                cloud: true
            })
        );
        // Someone else's cloud copy: nothing this account may delete.
        let board = r.items[0].id.clone();
        let _ = r.update(Message::Delete(board));
        assert_eq!(r.update(Message::ConfirmDelete), None);
        // Recording now: not deletable.
        r.items[2].local.as_mut().unwrap().1 = "recording".into();
        let weekly = r.items[2].id.clone();
        let _ = r.update(Message::Delete(weekly));
        assert_eq!(r.update(Message::ConfirmDelete), None);
    }

    #[test]
    fn enter_in_the_search_opens_the_first_local_match() {
        let mut r = sample();
        let _ = r.update(Message::Search("sync".into()));
        let weekly = r.items[2].clone();
        assert_eq!(
            r.update(Message::OpenFirst),
            Some(Event::Open {
                id: weekly.id,
                dir: weekly.local.unwrap().0
            })
        );
        let _ = r.update(Message::Search("board meeting".into()));
        assert_eq!(r.update(Message::OpenFirst), None, "no local copy matches");
    }

    #[test]
    fn open_goes_to_the_local_copy() {
        let mut r = sample();
        let design = r.items[3].clone();
        assert_eq!(
            r.update(Message::Open(design.id.clone())),
            Some(Event::Open {
                id: design.id,
                dir: design.local.unwrap().0
            })
        );
        let board = r.items[0].id.clone();
        assert_eq!(
            r.update(Message::Open(board)),
            None,
            "no local copy to open"
        );
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(1_234), "1.2 kB");
        assert_eq!(human_size(48_000_000), "48 MB");
        assert_eq!(human_size(2_500_000_000), "2.5 GB");
    }
}
