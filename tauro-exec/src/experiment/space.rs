//! The search space of an experiment: unit-cube points → hyperparameter values → surrogate inputs.

use indexmap::IndexMap;
use rand::RngCore;
use serde_json::Value;
use tauro_config::Dimension;

use super::dimension::{self, invalid};
use crate::error::Result;

/// An experiment's validated search space.
///
/// Two views of a point:
/// - the *unit cube* `[0, 1]^d`, one coordinate per hyperparameter, where proposals are
///   sampled; [`SearchSpace::decode`] turns it into values: `real` → `low + u·(high − low)`;
///   `log_uniform` → `exp(ln low + u·(ln high − ln low))`; `integer` → `low + ⌊u·(high − low +
///   1)⌋` (at most `high`), the nearest integer on the range widened by ½ at both ends, so each
///   integer owns an equal slice of `[0, 1]` (rounding `low + u·(high − low)` would give both
///   ends half the chance of the others); `categorical` → `values[⌊u·k⌋]` (at most `k − 1`).
/// - the *encoding* the surrogate model sees ([`SearchSpace::encode`]), computed from the
///   values that were actually run: numbers as their position in the range (`(v − low) /
///   (high − low)`, on the log scale for `log_uniform`; integers are whole numbers already, so
///   all points of one integer's slice share one encoding), categoricals one-hot (one
///   coordinate per choice, scaled by 1/√2 so that two different choices are at distance 1).
///   One-hot rather than the snapped index because choices have no order.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpace {
    dims: Vec<(String, Dimension)>,
}

impl SearchSpace {
    /// Validates a space: at least one dimension; `low < high` (finite) for `real`, `integer`
    /// and `log_uniform`, `low > 0` for `log_uniform`; at least one value for `categorical`.
    pub fn new(space: &IndexMap<String, Dimension>) -> Result<Self> {
        if space.is_empty() {
            return Err(invalid("the search space has no dimension".to_string()));
        }
        for (name, dim) in space {
            dimension::check(name, dim)?;
        }
        Ok(Self {
            dims: space.iter().map(|(n, d)| (n.clone(), d.clone())).collect(),
        })
    }

    /// Number of hyperparameters (the dimension of the unit cube).
    pub fn dims(&self) -> usize {
        self.dims.len()
    }

    /// Length of the surrogate model's inputs (one per numeric dimension, one per choice of a
    /// categorical).
    pub fn encoded_dims(&self) -> usize {
        self.dims.iter().map(|(_, d)| dimension::width(d)).sum()
    }

    /// The hyperparameter names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.dims.iter().map(|(n, _)| n.as_str())
    }

    /// A uniform point of the unit cube (53-bit floats from `next_u64`, so a seeded generator
    /// gives the same points whatever the version of `rand`).
    pub fn sample<R: RngCore + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        self.dims.iter().map(|_| uniform(rng)).collect()
    }

    /// The hyperparameter values of a unit-cube point (coordinates are clamped to `[0, 1]`;
    /// missing ones count as 0).
    pub fn decode(&self, unit: &[f64]) -> IndexMap<String, Value> {
        let coordinate = |i: usize| unit.get(i).copied().unwrap_or(0.0);
        (self.dims.iter().enumerate())
            .map(|(i, (name, dim))| (name.clone(), dimension::decode(dim, coordinate(i))))
            .collect()
    }

    /// The surrogate model's input for values that were run. Errors when a hyperparameter is
    /// missing, has the wrong type, lies outside its range or is not one of the choices.
    pub fn encode(&self, values: &IndexMap<String, Value>) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.encoded_dims());
        for (name, dim) in &self.dims {
            dimension::locate(name, dim, lookup(values, name)?)?.encode(&mut out);
        }
        Ok(out)
    }

    /// `encode(decode(unit))`, computed without building the values (the optimiser encodes
    /// thousands of candidates per proposal).
    pub(crate) fn encode_unit(&self, unit: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.encoded_dims());
        for (i, (_, dim)) in self.dims.iter().enumerate() {
            dimension::encode_unit(dim, unit.get(i).copied().unwrap_or(0.0), &mut out);
        }
        out
    }

    /// A unit-cube point that decodes to these values (the middle of an integer's or a
    /// choice's slice), to search around a good observation.
    pub(crate) fn to_unit(&self, values: &IndexMap<String, Value>) -> Result<Vec<f64>> {
        (self.dims.iter())
            .map(|(name, dim)| Ok(dimension::locate(name, dim, lookup(values, name)?)?.unit()))
            .collect()
    }
}

/// A uniform number in `[0, 1)`.
pub(crate) fn uniform<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn lookup<'a>(values: &'a IndexMap<String, Value>, name: &str) -> Result<&'a Value> {
    values
        .get(name)
        .ok_or_else(|| invalid(format!("hyperparameter '{name}' has no value")))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;
    use tauro_config::Dimension;

    use super::*;

    fn space(dims: &[(&str, Dimension)]) -> SearchSpace {
        let map: IndexMap<String, Dimension> = dims
            .iter()
            .map(|(n, d)| (n.to_string(), d.clone()))
            .collect();
        SearchSpace::new(&map).unwrap()
    }

    #[test]
    fn samples_stay_in_the_cube_and_decode_inside_the_bounds() {
        let s = space(&[
            (
                "a",
                Dimension::Real {
                    low: 0.5,
                    high: 0.6,
                },
            ),
            ("b", Dimension::Integer { low: -3, high: 3 }),
        ]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let u = s.sample(&mut rng);
            assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
            let v = s.decode(&u);
            assert!((0.5..=0.6).contains(&v["a"].as_f64().unwrap()));
            assert!((-3..=3).contains(&v["b"].as_i64().unwrap()));
        }
        assert_eq!(s.dims(), 2);
        assert_eq!(s.names().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn encoding_a_point_is_encoding_its_values() {
        let s = space(&[
            (
                "a",
                Dimension::Real {
                    low: -1.0,
                    high: 3.0,
                },
            ),
            ("b", Dimension::Integer { low: -3, high: 4 }),
            (
                "c",
                Dimension::LogUniform {
                    low: 1e-3,
                    high: 10.0,
                },
            ),
            (
                "d",
                Dimension::Categorical {
                    values: vec![json!(true), json!("x"), json!(2.5)],
                },
            ),
        ]);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..200 {
            let u = s.sample(&mut rng);
            let direct = s.encode_unit(&u);
            let values = s.encode(&s.decode(&u)).unwrap();
            assert_eq!(direct.len(), 6);
            assert!(
                direct
                    .iter()
                    .zip(&values)
                    .all(|(a, b)| (a - b).abs() < 1e-12)
            );
            let back = s.decode(&s.to_unit(&s.decode(&u)).unwrap());
            assert_eq!(back["b"], s.decode(&u)["b"]);
            assert_eq!(back["d"], s.decode(&u)["d"]);
        }
    }

    #[test]
    fn values_that_do_not_fit_are_refused() {
        let s = space(&[
            (
                "a",
                Dimension::Real {
                    low: 0.0,
                    high: 1.0,
                },
            ),
            ("b", Dimension::Integer { low: 0, high: 9 }),
            (
                "c",
                Dimension::Categorical {
                    values: vec![json!("x")],
                },
            ),
        ]);
        let with = |a: Value, b: Value, c: Value| -> IndexMap<String, Value> {
            [("a".into(), a), ("b".into(), b), ("c".into(), c)].into()
        };
        assert!(s.encode(&with(json!(0.5), json!(3), json!("x"))).is_ok());
        assert!(s.encode(&with(json!(1.5), json!(3), json!("x"))).is_err());
        assert!(s.encode(&with(json!("0.5"), json!(3), json!("x"))).is_err());
        assert!(s.encode(&with(json!(0.5), json!(3.5), json!("x"))).is_err());
        assert!(s.encode(&with(json!(0.5), json!(3), json!("y"))).is_err());
        let mut missing = with(json!(0.5), json!(3), json!("x"));
        missing.shift_remove("b");
        assert!(s.encode(&missing).is_err());
    }

    #[test]
    fn an_empty_space_is_refused() {
        assert!(SearchSpace::new(&IndexMap::new()).is_err());
    }
}
