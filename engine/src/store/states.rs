//! The states a recording in the library goes through, as types; stored as the same words the
//! table's CHECK constraints allow, and shown in the CLI's JSON as those words.

use assent_shared::consent::Scope;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// Whether a recording is being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    Recording,
    Complete,
    /// Its recorder stopped without closing it (a crash): every finished segment still counts.
    Incomplete,
}

/// Where a recording's cloud copy stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudState {
    /// No cloud copy was agreed to.
    None,
    Pending,
    Uploading,
    Complete,
    /// The last attempt failed (retried, unless the failure was permanent).
    Failed,
}

macro_rules! words {
    ($ty:ty, $what:literal, $($variant:ident => $word:literal),+ $(,)?) => {
        impl $ty {
            /// The word stored and shown for it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word),+
                }
            }

            fn from_word(s: &str) -> Option<Self> {
                match s {
                    $($word => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        impl FromSql for $ty {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = value.as_str()?;
                Self::from_word(s)
                    .ok_or_else(|| FromSqlError::Other(format!("unknown {} {s:?}", $what).into()))
            }
        }
    };
}

words!(RecordingState, "recording state",
    Recording => "recording", Complete => "complete", Incomplete => "incomplete");
words!(CloudState, "cloud state",
    None => "none", Pending => "pending", Uploading => "uploading", Complete => "complete",
    Failed => "failed");

/// The word stored for a scope.
pub(crate) fn scope_word(s: Scope) -> &'static str {
    match s {
        Scope::Local => "local",
        Scope::LocalAndCloud => "local_and_cloud",
    }
}

pub(crate) fn scope_from_word(s: &str) -> Option<Scope> {
    match s {
        "local" => Some(Scope::Local),
        "local_and_cloud" => Some(Scope::LocalAndCloud),
        _ => None,
    }
}

/// Serialise a scope as its stored word (the CLI's JSON).
pub(crate) fn serialize_scope<S: serde::Serializer>(s: &Scope, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(scope_word(*s))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every state is stored as the word the table allows, and read back as itself.
    #[test]
    fn states_round_trip_through_their_words() {
        for s in [
            RecordingState::Recording,
            RecordingState::Complete,
            RecordingState::Incomplete,
        ] {
            assert_eq!(RecordingState::from_word(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in [
            CloudState::None,
            CloudState::Pending,
            CloudState::Uploading,
            CloudState::Complete,
            CloudState::Failed,
        ] {
            assert_eq!(CloudState::from_word(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in [Scope::Local, Scope::LocalAndCloud] {
            assert_eq!(scope_from_word(scope_word(s)), Some(s));
        }
        assert_eq!(CloudState::from_word("uploaded"), None);
    }
}
