//! `flotilla runs [RUN]`: ledger history, or one run in the shape apply prints.

use flotilla_ledger::Reader;
use flotilla_report::{report_from_ledger, report_json, report_text, runs_json, runs_text};

use crate::cli::Global;
use crate::error::{CliError, Outcome};

pub fn run(global: &Global, run_id: Option<&str>) -> Result<Outcome, CliError> {
    let fleet = crate::context::load_fleet(&global.fleet)?;
    let reader = Reader::open(&fleet.ledger_path)?;
    match run_id {
        None => {
            let runs = reader.runs()?;
            crate::output::print(global, || runs_text(&runs), || runs_json(&runs));
        }
        Some(run_id) => {
            let run = reader.run(run_id)?;
            let tenants = reader.run_tenants(run_id)?;
            let report = report_from_ledger(&run, &tenants);
            crate::output::print(global, || report_text(&report), || report_json(&report));
        }
    }
    Ok(Outcome::Success)
}
