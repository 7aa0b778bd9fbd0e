//! Where the call's tiles go, as a pure function of who is there: alone (our own picture
//! large, with the invitation), two (the other large and us in a corner), a grid for three to
//! five (3 + 2 for five), or the speaker view (the one speaking large, the others in a strip).

use std::time::Duration;

/// How long a short notice stays: shown for four seconds, then fading for one.
pub const TOAST_FOR: Duration = Duration::from_secs(5);
/// When a notice starts to fade.
const TOAST_FADES: Duration = Duration::from_secs(4);

/// How visible a notice shown `age` ago is: fully, then fading to nothing.
pub fn toast_alpha(age: Duration) -> f32 {
    if age <= TOAST_FADES {
        1.0
    } else if age >= TOAST_FOR {
        0.0
    } else {
        let left = TOAST_FOR - age;
        left.as_secs_f32() / (TOAST_FOR - TOAST_FADES).as_secs_f32()
    }
}

/// The side panel beside the stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Chat,
    People,
}

/// A corner of the stage, for our own small picture in a call of two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    BottomRight,
    BottomLeft,
    TopLeft,
    TopRight,
}

impl Corner {
    /// The next corner, clockwise: where a click moves the picture.
    pub fn next(self) -> Corner {
        match self {
            Corner::BottomRight => Corner::BottomLeft,
            Corner::BottomLeft => Corner::TopLeft,
            Corner::TopLeft => Corner::TopRight,
            Corner::TopRight => Corner::BottomRight,
        }
    }
}

/// How the stage is laid out. Tiles are numbered: the others in order, then us (`others`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Nobody else: our picture large, waiting for others.
    Alone,
    /// One other: theirs large, ours small in a corner.
    Pair { corner: Corner },
    /// Rows of tiles, each row's tiles by number (the last row centred when shorter).
    Grid { rows: Vec<Vec<usize>> },
    /// One tile large, the others in a strip under it.
    Speaker { large: usize, strip: Vec<usize> },
}

/// The layout for `others` people besides us, in the speaker view or not; `speaking` is the
/// tile of the one speaking (the large one in the speaker view; when it is us, the last other
/// who spoke stays, `last`).
pub fn layout(
    others: usize,
    speaker_view: bool,
    speaking: Option<usize>,
    last: Option<usize>,
    corner: Corner,
) -> Layout {
    let total = others + 1;
    match others {
        0 => Layout::Alone,
        1 => Layout::Pair { corner },
        _ if speaker_view => {
            // The one speaking, unless it is us: then whoever spoke last, else the first.
            let large = speaking
                .filter(|t| *t < others)
                .or(last.filter(|t| *t < others))
                .unwrap_or(0);
            Layout::Speaker {
                large,
                strip: (0..total).filter(|t| *t != large).collect(),
            }
        }
        _ => Layout::Grid {
            rows: grid_rows(total),
        },
    }
}

/// Tiles in rows as even as can be, the longer rows first: 3 → 2 + 1, 4 → 2 + 2, 5 → 3 + 2,
/// 6 → 3 + 3, 7 → 3 + 2 + 2.
pub fn grid_rows(total: usize) -> Vec<Vec<usize>> {
    let columns = (1..).find(|c| c * c >= total).unwrap_or(1);
    let rows = total.div_ceil(columns);
    let mut out = Vec::with_capacity(rows);
    let mut next = 0;
    for r in 0..rows {
        // What is left, shared among the rows left.
        let n = (total - next).div_ceil(rows - r);
        out.push((next..next + n).collect());
        next += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(rows: &[Vec<usize>]) -> Vec<usize> {
        rows.iter().map(Vec::len).collect()
    }

    #[test]
    fn grids_for_three_to_seven_people() {
        assert_eq!(shape(&grid_rows(3)), [2, 1]);
        assert_eq!(shape(&grid_rows(4)), [2, 2]);
        assert_eq!(shape(&grid_rows(5)), [3, 2]);
        assert_eq!(shape(&grid_rows(6)), [3, 3]);
        assert_eq!(shape(&grid_rows(7)), [3, 2, 2]);
        // Every tile once, in order.
        let all: Vec<usize> = grid_rows(5).concat();
        assert_eq!(all, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn layouts_by_the_number_of_people() {
        let l = |others, speaker_view| layout(others, speaker_view, None, None, Corner::TopLeft);
        assert_eq!(l(0, false), Layout::Alone);
        assert_eq!(l(0, true), Layout::Alone);
        assert_eq!(
            l(1, true),
            Layout::Pair {
                corner: Corner::TopLeft
            }
        );
        assert_eq!(
            l(2, false),
            Layout::Grid {
                rows: vec![vec![0, 1], vec![2]]
            }
        );
        assert_eq!(
            l(4, false),
            Layout::Grid {
                rows: vec![vec![0, 1, 2], vec![3, 4]]
            }
        );
    }

    /// The speaker view follows the one speaking; while we speak, the last other one stays
    /// large (we see ourselves in the strip).
    #[test]
    fn the_speaker_view_follows_the_one_speaking() {
        let speaker = |speaking, last| match layout(3, true, speaking, last, Corner::BottomRight) {
            Layout::Speaker { large, strip } => (large, strip),
            other => panic!("{other:?}"),
        };
        assert_eq!(speaker(Some(2), None), (2, vec![0, 1, 3]));
        assert_eq!(speaker(Some(3), Some(1)), (1, vec![0, 2, 3]));
        assert_eq!(speaker(None, None), (0, vec![1, 2, 3]));
    }

    #[test]
    fn the_small_picture_goes_round_the_corners() {
        let mut c = Corner::BottomRight;
        let mut seen = vec![c];
        for _ in 0..3 {
            c = c.next();
            seen.push(c);
        }
        assert_eq!(c.next(), Corner::BottomRight);
        seen.dedup();
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn notices_fade_after_four_seconds() {
        assert_eq!(toast_alpha(Duration::from_secs(1)), 1.0);
        assert!((toast_alpha(Duration::from_millis(4500)) - 0.5).abs() < 0.01);
        assert_eq!(toast_alpha(Duration::from_secs(6)), 0.0);
    }
}
