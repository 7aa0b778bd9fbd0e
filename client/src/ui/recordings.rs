//! Recordings: the ones on this device and the cloud copies of calls this account took part in,
//! as one list: title, date, duration, participants, tags, size, where the copies are (with
//! the upload's progress), how long the cloud keeps it; search and a tag filter; open,
//! upload, download and delete.

use assent_engine::{CloudState, RecordingRow, RecordingState};
use assent_shared::api::{RecordingInfo, RecordingStatus};
use assent_shared::consent::Scope;
use iced::widget::{
    Column, button, column, container, progress_bar, row, scrollable, space, text, text_input,
};
use iced::{Center, Element, Fill};
use jiff::tz::TimeZone;

use super::{theme, time};

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
    pub local: Option<(String, RecordingState)>,
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
            let cloud = if r.scope != Scope::LocalAndCloud {
                Cloud::NotKept
            } else if r.cloud_state == CloudState::Complete {
                Cloud::Stored
            } else if r.cloud_state == CloudState::Failed {
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
        match items.iter_mut().find(|i| i.id == id) {
            Some(item) => item.add_cloud(info),
            None => items.push(Item::from_cloud(id, info)),
        }
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.started_at));
    items
}

impl Item {
    /// What the registry says about a recording this device has: how long it is kept, who may
    /// delete it, its people (a downloaded copy knows them from the registry only) and tags.
    fn add_cloud(&mut self, info: RecordingInfo) {
        self.keep_until = info.retention_until;
        self.can_delete_cloud = info.can_delete;
        if self.participants.is_empty() {
            self.participants = info
                .participants
                .iter()
                .map(|p| p.display_name.clone())
                .collect();
        }
        if info.status == RecordingStatus::Complete {
            self.cloud = Some(Cloud::Stored);
        }
        for t in info.tags {
            if !self.tags.contains(&t) {
                self.tags.push(t);
            }
        }
    }

    /// A recording only in the cloud.
    fn from_cloud(id: String, info: RecordingInfo) -> Item {
        let cloud = if info.status == RecordingStatus::Complete {
            Cloud::Stored
        } else {
            Cloud::Uploading {
                done: info.objects.iter().map(|o| o.size).sum(),
                total: info.size,
            }
        };
        Item {
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
            cloud: Some(cloud),
            keep_until: info.retention_until,
            can_delete_cloud: info.can_delete,
        }
    }
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
            Message::Delete(_) | Message::ConfirmDelete | Message::CancelDelete => {
                self.deleting(message)
            }
            Message::EditTags(_)
            | Message::TagsInput(_)
            | Message::CancelTags
            | Message::SaveTags => self.tagging(message),
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

    /// Deleting: which copies may go (never one being recorded), then the confirmation.
    fn deleting(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Delete(id) => {
                let item = self.items.iter().find(|i| i.id == id)?;
                let local = item
                    .local
                    .as_ref()
                    .is_some_and(|(_, state)| *state != RecordingState::Recording);
                let cloud = item.can_delete_cloud && item.cloud.is_some();
                if local || cloud {
                    self.confirm = Some(PendingDelete { id, local, cloud });
                }
                None
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
            _ => None,
        }
    }

    /// Editing a recording's tags: they are checked before they are saved.
    fn tagging(&mut self, message: Message) -> Option<Event> {
        match message {
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
            _ => None,
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let header = row![
            button(text("← Home"))
                .style(theme::button::secondary)
                .on_press(Message::Back),
            text("Recordings").size(theme::size::HEADING),
            space::horizontal(),
            button(text("Refresh"))
                .style(theme::button::secondary)
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
            body = body.push(text(n.as_str()).style(theme::muted));
        }
        if let Some(p) = &self.confirm {
            body = body.push(self.confirmation(p));
        }
        let visible = self.visible();
        if self.loading && self.items.is_empty() {
            body = body.push(text("Loading…").style(theme::muted));
        } else if self.items.is_empty() {
            body = body.push(
                text("No recordings yet. Record a call (everyone must agree) and it appears here.")
                    .style(theme::muted),
            );
        } else if visible.is_empty() {
            body = body.push(text("Nothing matches.").style(theme::muted));
        } else {
            body = body.push(
                text(match self.items.len() {
                    1 => format!("{} of 1 recording", visible.len()),
                    n => format!("{} of {n} recordings", visible.len()),
                })
                .size(13)
                .style(theme::muted),
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
                    .style(theme::button::secondary)
                    .on_press(Message::CancelDelete),
                button(text("Delete"))
                    .style(theme::button::danger)
                    .on_press(Message::ConfirmDelete),
            ]
            .spacing(8),
        );
        theme::card(c)
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
                match state {
                    RecordingState::Recording => "recording now",
                    RecordingState::Incomplete => {
                        "incomplete (interrupted; what was kept verifies)"
                    }
                    RecordingState::Complete => "on this device",
                }
                .into(),
            );
        }
        let mut c = column![
            row![
                text(item.title.as_str()).size(18),
                space::horizontal(),
                text(facts.join(" · ")).size(13).style(theme::muted),
            ]
            .spacing(12)
            .align_y(Center),
        ]
        .spacing(6);
        if !item.participants.is_empty() {
            c = c.push(text(format!("With {}", item.participants.join(", "))).size(14));
        }
        c = self.tags_line(item, c);
        c = c.push(self.cloud_line(item));
        c = c.push(self.actions(item));
        theme::card(c)
    }

    /// The tags: the field editing them, or the hashtags.
    fn tags_line<'a>(&'a self, item: &'a Item, mut c: Column<'a, Message>) -> Column<'a, Message> {
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
                            .style(theme::button::secondary)
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
                        .style(theme::muted),
                );
            }
            _ => {}
        }
        c
    }

    /// Where the cloud copy is: not kept, stored until when, uploading (with progress), failed.
    fn cloud_line<'a>(&'a self, item: &'a Item) -> Element<'a, Message> {
        match &item.cloud {
            None | Some(Cloud::NotKept) => text("Kept on this device only")
                .size(13)
                .style(theme::muted)
                .into(),
            Some(Cloud::Stored) => text(match item.keep_until {
                Some(t) => format!("In the cloud until {}", time::when(t, &self.tz)),
                None => "In the cloud".into(),
            })
            .size(13)
            .style(theme::muted)
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
        }
    }

    /// Open or download, upload now, edit tags, delete.
    fn actions<'a>(&'a self, item: &'a Item) -> Element<'a, Message> {
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
                    .style(theme::button::secondary)
                    .on_press(Message::Upload(item.id.clone())),
            );
        }
        let deletable = item
            .local
            .as_ref()
            .is_some_and(|(_, s)| *s != RecordingState::Recording)
            || (item.can_delete_cloud && item.cloud.is_some());
        actions = actions.push(
            button(text("Edit tags"))
                .style(theme::button::secondary)
                .on_press(Message::EditTags(item.id.clone())),
        );
        actions = actions.push(space::horizontal());
        actions = actions.push(
            button(text("Delete…"))
                .style(theme::button::danger)
                .on_press_maybe(deletable.then(|| Message::Delete(item.id.clone()))),
        );
        actions.into()
    }
}

fn chip<'a>(label: &str, on: bool, message: Message) -> Element<'a, Message> {
    button(text(label.to_string()).size(13))
        .padding([4, 10])
        .style(theme::button::tab(on))
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
mod tests;
