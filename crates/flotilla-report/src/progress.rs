//! Progress bars on stderr: one for the whole run and one for the wave in flight. The binary only
//! subscribes this reporter when stderr is a terminal and `--no-progress` was not given.

use flotilla_rollout::{Event, EventSink, TenantStatus};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bars: MultiProgress,
    overall: Option<ProgressBar>,
    wave: Option<ProgressBar>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    pub fn new() -> Self {
        Self {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            overall: None,
            wave: None,
        }
    }

    fn bar(&self, len: usize, prefix: String) -> ProgressBar {
        let style = ProgressStyle::with_template("{prefix:>12.bold} [{bar:30}] {pos}/{len} {msg}")
            .expect("the template is valid")
            .progress_chars("=> ");
        let bar = self.bars.add(ProgressBar::new(len as u64));
        bar.set_style(style);
        bar.set_prefix(prefix);
        bar
    }
}

impl EventSink for Progress {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::RunStarted { plan, .. } => {
                self.overall = Some(self.bar(plan.tenants().count(), "fleet".into()));
            }
            Event::Baking { wave, .. } => {
                if let Some(overall) = &self.overall {
                    overall.set_message(format!("baking before wave {}", wave.name));
                }
            }
            Event::WaveStarted { wave, .. } => {
                if let Some(overall) = &self.overall {
                    overall.set_message(String::new());
                }
                self.wave = Some(self.bar(wave.tenants.len(), format!("wave {}", wave.name)));
            }
            Event::TenantFinished { result, .. } => {
                for bar in [&self.overall, &self.wave].into_iter().flatten() {
                    bar.inc(1);
                    if result.status == TenantStatus::Failed {
                        bar.set_message(format!("failed: {}", result.id));
                    }
                }
            }
            Event::WaveFinished { .. } => {
                if let Some(wave) = self.wave.take() {
                    wave.finish();
                }
            }
            Event::RunFinished { .. } => {
                if let Some(overall) = self.overall.take() {
                    overall.finish_and_clear();
                }
                let _ = self.bars.clear();
            }
            Event::TenantStarted { .. } | Event::MigrationApplied { .. } | Event::Paused { .. } => {
            }
        }
    }
}
