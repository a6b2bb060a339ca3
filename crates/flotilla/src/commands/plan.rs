//! `flotilla plan`: the same plan apply would execute, printed; nothing is written anywhere.

use flotilla_report::{plan_json, plan_text};
use flotilla_rollout::{Plan, Selection, survey};

use crate::cli::Global;
use crate::context::Context;
use crate::error::{CliError, Outcome};

pub async fn run(
    global: &Global,
    to: Option<i64>,
    selection: Selection,
) -> Result<Outcome, CliError> {
    let context = crate::context::load(&global.fleet).await?;
    let plan = build(&context, &selection, to).await?;
    crate::output::print(
        global,
        || plan_text(&plan, context.fleet.policy.transaction, &context.set),
        || plan_json(&plan),
    );
    Ok(Outcome::Success)
}

/// Checks the selection and target, reads every selected tenant (read-only), and plans.
pub async fn build(
    context: &Context,
    selection: &Selection,
    to: Option<i64>,
) -> Result<Plan, CliError> {
    let layout = selection.layout(&context.fleet.waves, &context.tenants)?;
    flotilla_rollout::check_target(&context.set, to)?;
    let states = survey(&context.connector, layout.tenants()).await;
    Ok(flotilla_rollout::plan(
        layout,
        states.into_iter(),
        &context.set,
        to,
    )?)
}
