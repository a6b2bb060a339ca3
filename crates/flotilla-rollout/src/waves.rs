//! Which tenant belongs to which wave. Pure and deterministic: the same fleet always yields the same
//! canaries, whatever order discovery lists the tenants in.

use flotilla_fleet::WaveSpec;
use flotilla_tenant::Tenant;
use sha2::{Digest, Sha256};

/// A stable position for `id` in percent samples: the first eight bytes of its SHA-256. Unlike
/// `std`'s hasher it never changes between releases or machines.
pub fn sample_key(id: &str) -> u64 {
    let digest = Sha256::digest(id.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
}

/// Assigns each tenant to the first wave that selects it. Returns, per wave, indexes into `tenants`
/// in the order given, and the tenants no wave selected (possible only when no wave is a catch-all).
///
/// `percent = P` takes ceil(P% of the whole fleet) tenants, chosen among those no earlier wave took
/// by ascending `sample_key`.
pub fn assign_waves(waves: &[WaveSpec], tenants: &[Tenant]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut taken = vec![false; tenants.len()];
    let mut out = Vec::with_capacity(waves.len());
    for wave in waves {
        let mut members: Vec<usize> = Vec::new();
        if wave.is_catch_all() {
            members.extend((0..tenants.len()).filter(|&i| !taken[i]));
        } else {
            members.extend((0..tenants.len()).filter(|&i| {
                !taken[i]
                    && (wave.ids.contains(&tenants[i].id)
                        || tenants[i].tags.iter().any(|t| wave.tags.contains(t)))
            }));
            if let Some(percent) = wave.percent {
                // In hundredths of a percent and integers, so 7% of 100 is 7, not 7.000000000000001
                // rounded up to 8.
                let basis_points = (percent * 100.0).round() as usize;
                let want = (basis_points * tenants.len()).div_ceil(10_000);
                let mut candidates: Vec<usize> = (0..tenants.len())
                    .filter(|&i| !taken[i] && !members.contains(&i))
                    .collect();
                candidates.sort_by_key(|&i| (sample_key(&tenants[i].id), i));
                let room = want.saturating_sub(members.len());
                members.extend(candidates.into_iter().take(room));
                members.sort_unstable();
            }
        }
        for &i in &members {
            taken[i] = true;
        }
        out.push(members);
    }
    let unassigned = (0..tenants.len()).filter(|&i| !taken[i]).collect();
    (out, unassigned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{tenant, wave};
    use proptest::prelude::*;

    #[test]
    fn first_matching_wave_wins_and_catch_all_takes_the_rest() {
        let tenants = vec![
            tenant("a", &["canary"]),
            tenant("b", &[]),
            tenant("c", &["canary"]),
            tenant("d", &[]),
        ];
        let waves = vec![
            wave("ids", &["c"], &[], None),
            wave("tags", &[], &["canary"], None),
            wave("rest", &[], &[], None),
        ];
        let (assigned, unassigned) = assign_waves(&waves, &tenants);
        assert_eq!(assigned, vec![vec![2], vec![0], vec![1, 3]]);
        assert!(unassigned.is_empty());
    }

    #[test]
    fn percent_is_of_the_whole_fleet_and_rounds_up() {
        let tenants: Vec<Tenant> = (0..40).map(|i| tenant(&format!("t{i:02}"), &[])).collect();
        let waves = vec![
            wave("ten", &[], &[], Some(10.0)),
            wave("five", &[], &[], Some(2.5)),
        ];
        let (assigned, unassigned) = assign_waves(&waves, &tenants);
        assert_eq!(assigned[0].len(), 4);
        assert_eq!(assigned[1].len(), 1);
        assert_eq!(unassigned.len(), 35);
        let hundred: Vec<Tenant> = (0..100).map(|i| tenant(&format!("h{i:03}"), &[])).collect();
        let (assigned, _) = assign_waves(&[wave("seven", &[], &[], Some(7.0))], &hundred);
        assert_eq!(assigned[0].len(), 7);
    }

    fn ids() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::hash_set("[a-z]{1,6}", 0..60).prop_map(|s| s.into_iter().collect())
    }

    proptest! {
        #[test]
        fn every_tenant_is_in_at_most_one_wave_and_a_catch_all_leaves_none(ids in ids(), percent in 1.0f64..100.0) {
            let tenants: Vec<Tenant> = ids.iter().enumerate().map(|(i, id)| tenant(id, if i % 3 == 0 { &["canary"] } else { &[] })).collect();
            let waves = vec![wave("canary", &[], &["canary"], None), wave("sample", &[], &[], Some(percent)), wave("rest", &[], &[], None)];
            let (assigned, unassigned) = assign_waves(&waves, &tenants);
            prop_assert!(unassigned.is_empty());
            let mut seen = vec![0; tenants.len()];
            for members in &assigned {
                for &i in members { seen[i] += 1; }
            }
            prop_assert!(seen.iter().all(|&n| n == 1));
        }

        #[test]
        fn samples_do_not_depend_on_listing_order(mut ids in ids(), percent in 1.0f64..100.0) {
            let pick = |ids: &[String]| {
                let tenants: Vec<Tenant> = ids.iter().map(|id| tenant(id, &[])).collect();
                let (assigned, _) = assign_waves(&[wave("s", &[], &[], Some(percent))], &tenants);
                let mut chosen: Vec<String> = assigned[0].iter().map(|&i| tenants[i].id.clone()).collect();
                chosen.sort();
                chosen
            };
            let before = pick(&ids);
            ids.reverse();
            prop_assert_eq!(before, pick(&ids));
        }
    }
}
