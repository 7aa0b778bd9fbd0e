//! Video bitrate adaptation from RTCP receiver reports, after the loss-based part of Google
//! Congestion Control: heavy loss cuts the rate in proportion, light loss holds it, a clean
//! path lets it grow by 8 % a second. One encoder feeds every peer, so the worst peer decides.
//! Pure: the caller samples the reports and applies the answer.

/// The controller.
#[derive(Clone, Debug)]
pub struct RateController {
    kbps: f64,
    min: f64,
    max: f64,
}

/// One second's worth of what receivers report (worst over peers).
#[derive(Clone, Copy, Debug, Default)]
pub struct Report {
    /// Fraction of packets lost, 0..1.
    pub fraction_lost: Option<f64>,
}

impl RateController {
    pub fn new(start_kbps: u32, min_kbps: u32, max_kbps: u32) -> Self {
        let (min, max) = (f64::from(min_kbps), f64::from(max_kbps.max(min_kbps)));
        RateController {
            kbps: f64::from(start_kbps).clamp(min, max),
            min,
            max,
        }
    }

    pub fn kbps(&self) -> u32 {
        self.kbps.round() as u32
    }

    /// Feed one report; returns the new target when it moved by more than 1 %.
    pub fn update(&mut self, report: Report) -> Option<u32> {
        let loss = report.fraction_lost?;
        let before = self.kbps;
        if loss > 0.10 {
            self.kbps *= 1.0 - 0.5 * loss.min(1.0);
        } else if loss < 0.02 {
            self.kbps *= 1.08;
        }
        self.kbps = self.kbps.clamp(self.min, self.max);
        ((self.kbps - before).abs() > before * 0.01).then(|| self.kbps())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lossy(f: f64) -> Report {
        Report {
            fraction_lost: Some(f),
        }
    }

    #[test]
    fn grows_holds_and_backs_off_within_bounds() {
        let mut r = RateController::new(1000, 150, 2500);
        assert_eq!(r.update(lossy(0.0)), Some(1080));
        assert_eq!(r.update(lossy(0.05)), None, "light loss holds");
        assert_eq!(
            r.update(lossy(0.5)),
            Some(810),
            "half lost: cut by a quarter"
        );
        for _ in 0..100 {
            r.update(lossy(0.0));
        }
        assert_eq!(r.kbps(), 2500);
        for _ in 0..100 {
            r.update(lossy(1.0));
        }
        assert_eq!(r.kbps(), 150);
        assert_eq!(r.update(Report::default()), None, "no report, no change");
    }
}
