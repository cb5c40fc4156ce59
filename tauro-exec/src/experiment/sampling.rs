//! Where proposals come from: the initial Latin hypercube, and the candidate search for the
//! largest expected improvement.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::gp::GaussianProcess;
use super::space::{SearchSpace, uniform};

/// Random candidates scored by expected improvement at each model proposal.
const CANDIDATES: usize = 2000;
/// Best observations searched around, and candidates around each (cycling through the scales).
pub(super) const LOCAL_BASES: usize = 5;
const LOCAL_PER_BASE: usize = 60;
const LOCAL_SCALES: [f64; 3] = [0.15, 0.05, 0.015];
/// Hill climbing from the best candidate: candidates per scale.
const REFINE_SCALES: [f64; 3] = [0.04, 0.01, 0.002];
const REFINE_PER_SCALE: usize = 40;
/// Exploration margin of expected improvement (normalised targets).
const XI: f64 = 0.01;

/// The unit-cube point of largest expected improvement among random candidates, candidates
/// around `bases` (the best observations) and a hill climb from the best of them, skipping
/// points whose encoding is `seen`. When the improvement underflows everywhere, the point of
/// lowest confidence bound; `None` when every candidate was seen.
pub(super) fn best_candidate(
    space: &SearchSpace,
    gp: &GaussianProcess,
    bases: &[&[f64]],
    seen: &dyn Fn(&[f64]) -> bool,
    rng: &mut ChaCha8Rng,
) -> Option<Vec<f64>> {
    let mut search = Search {
        space,
        gp,
        seen,
        by_improvement: None,
        by_bound: None,
    };
    for _ in 0..CANDIDATES {
        search.consider(space.sample(rng));
    }
    for base in bases {
        for k in 0..LOCAL_PER_BASE {
            let scale = LOCAL_SCALES[k % LOCAL_SCALES.len()];
            search.consider(perturb(base, scale, rng));
        }
    }
    for scale in REFINE_SCALES {
        for _ in 0..REFINE_PER_SCALE {
            let Some((_, best)) = &search.by_improvement else {
                break;
            };
            let unit = perturb(best, scale, rng);
            search.consider(unit);
        }
    }
    search.choice()
}

/// The best candidates so far, by expected improvement and by lower confidence bound.
struct Search<'a> {
    space: &'a SearchSpace,
    gp: &'a GaussianProcess,
    seen: &'a dyn Fn(&[f64]) -> bool,
    by_improvement: Option<(f64, Vec<f64>)>,
    by_bound: Option<(f64, Vec<f64>)>,
}

impl Search<'_> {
    fn consider(&mut self, unit: Vec<f64>) {
        let encoded = self.space.encode_unit(&unit);
        if (self.seen)(&encoded) {
            return;
        }
        let (ei, bound) = self.gp.acquisition(&encoded, XI);
        if ei > 0.0 && self.by_improvement.as_ref().is_none_or(|(b, _)| ei > *b) {
            self.by_improvement = Some((ei, unit.clone()));
        }
        if self.by_bound.as_ref().is_none_or(|(b, _)| bound < *b) {
            self.by_bound = Some((bound, unit));
        }
    }

    /// Largest expected improvement; when it underflows everywhere, lowest bound.
    fn choice(self) -> Option<Vec<f64>> {
        self.by_improvement.or(self.by_bound).map(|(_, u)| u)
    }
}

/// The generator of proposal `n` (0: the initial design).
pub(super) fn stream(seed: u64, n: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(n);
    rng
}

/// `count` points of `[0, 1]^dims`, one in each of the `count` slices of every coordinate.
pub(super) fn latin_hypercube(rng: &mut ChaCha8Rng, count: usize, dims: usize) -> Vec<Vec<f64>> {
    let mut points = vec![Vec::with_capacity(dims); count];
    for _ in 0..dims {
        let mut slices: Vec<usize> = (0..count).collect();
        // Fisher–Yates with our own uniform draws (stable across `rand` versions).
        for i in (1..count).rev() {
            let j = ((uniform(rng) * (i + 1) as f64) as usize).min(i);
            slices.swap(i, j);
        }
        for (point, slice) in points.iter_mut().zip(slices) {
            point.push((slice as f64 + uniform(rng)) / count as f64);
        }
    }
    points
}

/// A point moved by up to `scale` along every coordinate, clamped to the cube.
fn perturb(unit: &[f64], scale: f64, rng: &mut ChaCha8Rng) -> Vec<f64> {
    unit.iter()
        .map(|u| (u + scale * (2.0 * uniform(rng) - 1.0)).clamp(0.0, 1.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;
    use tauro_config::Dimension;

    use super::*;

    fn square() -> SearchSpace {
        let range = || Dimension::Real {
            low: 0.0,
            high: 1.0,
        };
        let map: IndexMap<String, Dimension> =
            [("x".to_string(), range()), ("y".to_string(), range())].into();
        SearchSpace::new(&map).unwrap()
    }

    #[test]
    fn latin_hypercube_has_one_point_per_slice_of_every_coordinate() {
        let points = latin_hypercube(&mut stream(3, 0), 5, 3);
        assert_eq!(points.len(), 5);
        for d in 0..3 {
            let mut slices: Vec<usize> = points.iter().map(|p| (p[d] * 5.0) as usize).collect();
            slices.sort_unstable();
            assert_eq!(slices, [0, 1, 2, 3, 4], "coordinate {d}");
        }
        assert_eq!(points, latin_hypercube(&mut stream(3, 0), 5, 3));
        assert_ne!(points, latin_hypercube(&mut stream(3, 1), 5, 3));
    }

    #[test]
    fn the_best_candidate_is_near_the_predicted_minimum_and_not_seen() {
        // A bowl around (0.7, 0.2), sampled on a grid.
        let x: Vec<Vec<f64>> = (0..16)
            .map(|i| vec![f64::from(i % 4) / 3.0, f64::from(i / 4) / 3.0])
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|p| (p[0] - 0.7).powi(2) + (p[1] - 0.2).powi(2))
            .collect();
        let gp = GaussianProcess::fit(&x, &y).unwrap();
        let s = square();
        let never = |_: &[f64]| false;
        let best = best_candidate(
            &s,
            &gp,
            &[&[2.0 / 3.0, 1.0 / 3.0]],
            &never,
            &mut stream(1, 1),
        );
        let best = best.unwrap();
        let dist = ((best[0] - 0.7).powi(2) + (best[1] - 0.2).powi(2)).sqrt();
        assert!(dist < 0.15, "{best:?}");
        // Nothing left to propose.
        let always = |_: &[f64]| true;
        assert!(best_candidate(&s, &gp, &[], &always, &mut stream(1, 1)).is_none());
    }
}
