//! The plan: per wave, per tenant, what is pending. A pure function of the fleet's waves, the
//! tenants, their tracking-table states and the migrations, so it is tested without a database and
//! `plan`, `apply --dry-run` and `apply` cannot disagree.
//!
//! Planning happens in two steps because a survey of the tenants sits between them: `Selection::
//! layout` checks the operator's selection and assigns waves before any connection is opened, then
//! `plan` adds what each selected tenant lacks.

use std::time::Duration;

use flotilla_fleet::{Budget, Gate, WaveSpec};
use flotilla_migrations::MigrationSet;
use flotilla_tenant::{Tenant, TenantError, TenantState};

use crate::waves::assign_waves;

/// The operator's narrowing of the fleet (`--tenant`, `--tag`, `--wave`). Tenants and tags add up;
/// a wave narrows further. Empty means the whole fleet.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub tenants: Vec<String>,
    pub tags: Vec<String>,
    pub wave: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("--tenant {0:?}: no such tenant in the fleet")]
    UnknownTenant(String),
    #[error("--tag {0:?}: no tenant in the fleet has this tag")]
    UnknownTag(String),
    #[error("--wave {name:?}: no such wave (the fleet's waves: {known})")]
    UnknownWave { name: String, known: String },
    #[error(
        "--tenant {0:?}: no wave selects this tenant (add a wave without a selector to take every remaining tenant)"
    )]
    NoWave(String),
    #[error("--to {0}: no migration has this version")]
    UnknownTarget(i64),
}

/// Waves and their selected tenants, before anything is known about the tenants' states.
#[derive(Debug, Clone)]
pub struct Layout {
    pub waves: Vec<(WaveSpec, Vec<Tenant>)>,
    /// Selected tenants that no wave takes (only when no wave is a catch-all); they are not migrated.
    pub unassigned: Vec<String>,
}

impl Layout {
    pub fn tenants(&self) -> impl Iterator<Item = &Tenant> {
        self.waves.iter().flat_map(|(_, tenants)| tenants)
    }
}

impl Selection {
    pub fn is_everything(&self) -> bool {
        self.tenants.is_empty() && self.tags.is_empty() && self.wave.is_none()
    }

    /// Assigns the whole fleet to waves (so samples do not depend on the selection), then keeps the
    /// selected tenants. Every name in the selection must exist.
    pub fn layout(&self, waves: &[WaveSpec], tenants: &[Tenant]) -> Result<Layout, PlanError> {
        for id in &self.tenants {
            if !tenants.iter().any(|t| &t.id == id) {
                return Err(PlanError::UnknownTenant(id.clone()));
            }
        }
        for tag in &self.tags {
            if !tenants.iter().any(|t| t.tags.contains(tag)) {
                return Err(PlanError::UnknownTag(tag.clone()));
            }
        }
        if let Some(name) = &self.wave
            && !waves.iter().any(|w| &w.name == name)
        {
            let known = waves
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(PlanError::UnknownWave {
                name: name.clone(),
                known,
            });
        }
        let picked = |t: &Tenant| {
            (self.tenants.is_empty() && self.tags.is_empty())
                || self.tenants.contains(&t.id)
                || t.tags.iter().any(|tag| self.tags.contains(tag))
        };
        let (assigned, unassigned) = assign_waves(waves, tenants);
        if let Some(&i) = unassigned
            .iter()
            .find(|&&i| self.tenants.contains(&tenants[i].id))
        {
            return Err(PlanError::NoWave(tenants[i].id.clone()));
        }
        let waves = waves
            .iter()
            .zip(assigned)
            .filter(|(spec, _)| self.wave.as_ref().is_none_or(|w| w == &spec.name))
            .map(|(spec, members)| {
                let members = members
                    .into_iter()
                    .map(|i| &tenants[i])
                    .filter(|t| picked(t))
                    .cloned()
                    .collect();
                (spec.clone(), members)
            })
            .collect();
        let unassigned = if self.wave.is_some() {
            Vec::new()
        } else {
            unassigned
                .into_iter()
                .map(|i| &tenants[i])
                .filter(|t| picked(t))
                .map(|t| t.id.clone())
                .collect()
        };
        Ok(Layout { waves, unassigned })
    }
}

#[derive(Debug, Clone)]
pub struct PlannedTenant {
    pub tenant: Tenant,
    /// Highest applied version, as surveyed.
    pub current: Option<i64>,
    pub pending: Vec<i64>,
    /// Why the tenant cannot be migrated (unreachable, dirty, edited migration); it then fails in
    /// apply without any SQL being run on it.
    pub blocked: Option<TenantError>,
    /// The tracking table as surveyed, when it could be read.
    pub state: Option<TenantState>,
}

impl PlannedTenant {
    pub fn has_work(&self) -> bool {
        self.blocked.is_none() && !self.pending.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct PlannedWave {
    pub name: String,
    pub budget: Budget,
    pub bake: Option<Duration>,
    pub gate: Option<Gate>,
    pub tenants: Vec<PlannedTenant>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// `--to`, when given.
    pub target: Option<i64>,
    /// The newest migration in the directory.
    pub latest: Option<i64>,
    pub waves: Vec<PlannedWave>,
    pub unassigned: Vec<String>,
}

impl Plan {
    pub fn tenants(&self) -> impl Iterator<Item = &PlannedTenant> {
        self.waves.iter().flat_map(|w| &w.tenants)
    }

    /// True when no selected tenant has anything to apply or anything wrong with it.
    pub fn is_noop(&self) -> bool {
        self.tenants()
            .all(|t| t.blocked.is_none() && t.pending.is_empty())
    }

    /// The version tenants are brought to: `--to`, or the newest migration.
    pub fn goal(&self) -> Option<i64> {
        self.target.or(self.latest)
    }
}

/// `--to V` must name a migration: a typo would otherwise quietly mean "up to the nearest one".
pub fn check_target(set: &MigrationSet, target: Option<i64>) -> Result<(), PlanError> {
    match target {
        Some(version) if set.get(version).is_none() => Err(PlanError::UnknownTarget(version)),
        _ => Ok(()),
    }
}

/// Builds the plan from a layout and the surveyed states (one per tenant of the layout, in order).
pub fn plan(
    layout: Layout,
    mut states: impl Iterator<Item = Result<TenantState, TenantError>>,
    set: &MigrationSet,
    target: Option<i64>,
) -> Result<Plan, PlanError> {
    check_target(set, target)?;
    let mut waves = Vec::with_capacity(layout.waves.len());
    for (spec, tenants) in layout.waves {
        let tenants = tenants
            .into_iter()
            .map(|tenant| {
                let surveyed = states
                    .next()
                    .unwrap_or_else(|| Err(TenantError::Unreachable("not surveyed".into())));
                plan_tenant(tenant, surveyed, set, target)
            })
            .collect();
        waves.push(PlannedWave {
            name: spec.name,
            budget: spec.budget,
            bake: spec.bake,
            gate: spec.gate,
            tenants,
        });
    }
    Ok(Plan {
        target,
        latest: set.latest(),
        waves,
        unassigned: layout.unassigned,
    })
}

fn plan_tenant(
    tenant: Tenant,
    surveyed: Result<TenantState, TenantError>,
    set: &MigrationSet,
    target: Option<i64>,
) -> PlannedTenant {
    match surveyed {
        Err(error) => PlannedTenant {
            tenant,
            current: None,
            pending: Vec::new(),
            blocked: Some(error),
            state: None,
        },
        Ok(state) => {
            let pending = state
                .pending(set, target)
                .iter()
                .map(|m| m.version)
                .collect();
            let blocked = state.verify(set).err();
            PlannedTenant {
                tenant,
                current: state.version(),
                pending,
                blocked,
                state: Some(state),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, set, tenant};
    use flotilla_tenant::AppliedRow;
    use proptest::prelude::*;

    fn wave(name: &str, tags: &[&str]) -> WaveSpec {
        fixtures::wave(name, &[], tags, None)
    }

    fn state(set: &MigrationSet, versions: &[i64]) -> TenantState {
        TenantState::new(
            versions
                .iter()
                .map(|&v| AppliedRow {
                    version: v,
                    name: format!("m{v}"),
                    checksum: set.get(v).unwrap().checksum.clone(),
                    dirty: false,
                })
                .collect(),
        )
    }

    #[test]
    fn plans_pending_versions_per_wave_and_blocks_bad_tenants() {
        let set = set(&[1, 2, 3]);
        let tenants = vec![tenant("a", &["canary"]), tenant("b", &[]), tenant("c", &[])];
        let waves = vec![wave("canary", &["canary"]), wave("rest", &[])];
        let layout = Selection::default().layout(&waves, &tenants).unwrap();
        let states = vec![
            Ok(state(&set, &[1])),
            Ok(state(&set, &[1, 2, 3])),
            Err(TenantError::Unreachable("gone".into())),
        ];
        let plan = plan(layout, states.into_iter(), &set, None).unwrap();
        assert_eq!(plan.waves[0].tenants[0].pending, vec![2, 3]);
        assert_eq!(plan.waves[1].tenants[0].pending, Vec::<i64>::new());
        assert!(plan.waves[1].tenants[1].blocked.is_some());
        assert!(!plan.is_noop());
        assert_eq!(plan.goal(), Some(3));
    }

    #[test]
    fn selection_is_checked_and_narrows() {
        let tenants = vec![
            tenant("a", &["canary"]),
            tenant("b", &[]),
            tenant("c", &["eu"]),
        ];
        let waves = vec![wave("canary", &["canary"]), wave("rest", &[])];
        let only = |selection: Selection| {
            selection.layout(&waves, &tenants).map(|l| {
                l.waves
                    .iter()
                    .map(|(w, t)| {
                        (
                            w.name.clone(),
                            t.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            only(Selection {
                tenants: vec!["b".into()],
                tags: vec!["eu".into()],
                wave: None
            })
            .unwrap(),
            vec![
                ("canary".to_string(), vec![]),
                ("rest".to_string(), vec!["b".to_string(), "c".to_string()])
            ]
        );
        assert_eq!(
            only(Selection {
                wave: Some("canary".into()),
                ..Default::default()
            })
            .unwrap()
            .len(),
            1
        );
        assert_eq!(
            only(Selection {
                tenants: vec!["zz".into()],
                ..Default::default()
            }),
            Err(PlanError::UnknownTenant("zz".into()))
        );
        assert!(matches!(
            only(Selection {
                wave: Some("nope".into()),
                ..Default::default()
            }),
            Err(PlanError::UnknownWave { .. })
        ));
        assert_eq!(
            only(Selection {
                tags: vec!["us".into()],
                ..Default::default()
            }),
            Err(PlanError::UnknownTag("us".into()))
        );
    }

    #[test]
    fn unknown_target_is_refused() {
        let set = set(&[1, 2]);
        let layout = Selection::default()
            .layout(&[wave("all", &[])], &[])
            .unwrap();
        assert_eq!(
            plan(layout, std::iter::empty(), &set, Some(7)).unwrap_err(),
            PlanError::UnknownTarget(7)
        );
    }

    proptest! {
        /// Whatever a tenant holds, its pending list is exactly the versions it lacks up to the
        /// target, in order, and applying them would bring it to the goal.
        #[test]
        fn pending_is_exactly_what_is_missing(applied in proptest::collection::btree_set(1i64..20, 0..19), target in proptest::option::of(1i64..20)) {
            let set = set(&(1..20).collect::<Vec<_>>());
            let applied: Vec<i64> = applied.into_iter().collect();
            let layout = Selection::default().layout(&[wave("all", &[])], &[tenant("t", &[])]).unwrap();
            let plan = plan(layout, std::iter::once(Ok(state(&set, &applied))), &set, target).unwrap();
            let planned = &plan.waves[0].tenants[0];
            let expected: Vec<i64> = (1..20).filter(|v| !applied.contains(v) && target.is_none_or(|t| *v <= t)).collect();
            prop_assert_eq!(&planned.pending, &expected);
            prop_assert!(planned.pending.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(plan.is_noop(), expected.is_empty());
        }
    }
}
