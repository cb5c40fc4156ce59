//! One dimension of a search space: validation, unit coordinate → value, value → encoding.

use serde_json::Value;
use tauro_config::Dimension;

use crate::error::{Error, Result};

/// A one-hot choice is scaled so that two different choices are at distance 1, like the two
/// ends of a numeric range.
pub(super) const ONE_HOT: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// Values outside a range by less than this fraction of it are taken as on its bound
/// (decimal round trips of the ends).
const TOLERANCE: f64 = 1e-9;

/// Where a value lies in its dimension.
pub(super) enum Cell {
    /// `fraction`: the surrogate's coordinate; `unit`: a unit-cube coordinate decoding to it.
    Scalar { fraction: f64, unit: f64 },
    /// The value is choice `index` of `count`.
    Choice { index: usize, count: usize },
}

impl Cell {
    /// Appends the surrogate's coordinates.
    pub(super) fn encode(&self, out: &mut Vec<f64>) {
        match *self {
            Self::Scalar { fraction, .. } => out.push(fraction),
            Self::Choice { index, count } => one_hot(index, count, out),
        }
    }

    /// A unit-cube coordinate that decodes to the value (the middle of an integer's or a
    /// choice's slice).
    pub(super) fn unit(&self) -> f64 {
        match *self {
            Self::Scalar { unit, .. } => unit,
            Self::Choice { index, count } => (index as f64 + 0.5) / count as f64,
        }
    }
}

pub(super) fn invalid(reason: String) -> Error {
    Error::InvalidExperiment { reason }
}

/// Coordinates of the surrogate's input for this dimension.
pub(super) fn width(dim: &Dimension) -> usize {
    match dim {
        Dimension::Categorical { values } => values.len(),
        Dimension::Real { .. } | Dimension::Integer { .. } | Dimension::LogUniform { .. } => 1,
    }
}

pub(super) fn check(name: &str, dim: &Dimension) -> Result<()> {
    let range = |low: f64, high: f64| {
        if !low.is_finite() || !high.is_finite() {
            Err(invalid(format!(
                "dimension '{name}': the bounds must be finite numbers"
            )))
        } else if low >= high {
            Err(invalid(format!(
                "dimension '{name}': low ({low}) must be below high ({high})"
            )))
        } else {
            Ok(())
        }
    };
    match dim {
        Dimension::Real { low, high } => range(*low, *high),
        Dimension::Integer { low, high } if low >= high => Err(invalid(format!(
            "dimension '{name}': low ({low}) must be below high ({high})"
        ))),
        Dimension::Integer { .. } => Ok(()),
        Dimension::LogUniform { low, .. } if *low <= 0.0 => Err(invalid(format!(
            "dimension '{name}': a log_uniform range needs low > 0 (got {low})"
        ))),
        Dimension::LogUniform { low, high } => range(*low, *high),
        Dimension::Categorical { values } if values.is_empty() => Err(invalid(format!(
            "dimension '{name}': a categorical dimension needs at least one value"
        ))),
        Dimension::Categorical { .. } => Ok(()),
    }
}

pub(super) fn decode(dim: &Dimension, u: f64) -> Value {
    let u = clamp_unit(u);
    match dim {
        Dimension::Real { low, high } => Value::from((low + u * (high - low)).clamp(*low, *high)),
        Dimension::Integer { low, high } => {
            let offset = integer_offset(u, *high as f64 - *low as f64);
            Value::from(low.saturating_add(offset as i64).min(*high))
        }
        Dimension::LogUniform { low, high } => {
            let (a, b) = (low.ln(), high.ln());
            Value::from((a + u * (b - a)).exp().clamp(*low, *high))
        }
        Dimension::Categorical { values } => values
            .get(choice(u, values.len()))
            .cloned()
            .unwrap_or(Value::Null),
    }
}

/// Appends the encoding of `decode(dim, u)`, computed without building the value.
pub(super) fn encode_unit(dim: &Dimension, u: f64, out: &mut Vec<f64>) {
    let u = clamp_unit(u);
    match dim {
        Dimension::Real { .. } | Dimension::LogUniform { .. } => out.push(u),
        Dimension::Integer { low, high } => {
            let span = *high as f64 - *low as f64;
            out.push(integer_offset(u, span) / span);
        }
        Dimension::Categorical { values } => one_hot(choice(u, values.len()), values.len(), out),
    }
}

fn one_hot(index: usize, count: usize, out: &mut Vec<f64>) {
    out.extend((0..count).map(|c| if c == index { ONE_HOT } else { 0.0 }));
}

fn clamp_unit(u: f64) -> f64 {
    if u.is_nan() { 0.0 } else { u.clamp(0.0, 1.0) }
}

/// `⌊u·(span + 1)⌋`, at most `span`: the integer of `u` above `low`.
fn integer_offset(u: f64, span: f64) -> f64 {
    (u * (span + 1.0)).floor().min(span)
}

/// `⌊u·k⌋`, at most `k − 1`: the choice of `u`.
fn choice(u: f64, k: usize) -> usize {
    ((u * k as f64).floor() as usize).min(k.saturating_sub(1))
}

pub(super) fn locate(name: &str, dim: &Dimension, value: &Value) -> Result<Cell> {
    let number = || {
        value.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
            invalid(format!(
                "hyperparameter '{name}': {value} is not a finite number"
            ))
        })
    };
    let fraction = |v: f64, low: f64, high: f64| {
        let f = (v - low) / (high - low);
        if (-TOLERANCE..=1.0 + TOLERANCE).contains(&f) {
            Ok(f.clamp(0.0, 1.0))
        } else {
            Err(invalid(format!(
                "hyperparameter '{name}': {value} is outside [{low}, {high}]"
            )))
        }
    };
    match dim {
        Dimension::Real { low, high } => {
            let f = fraction(number()?, *low, *high)?;
            Ok(Cell::Scalar {
                fraction: f,
                unit: f,
            })
        }
        Dimension::LogUniform { low, high } => {
            let v = number()?;
            if v <= 0.0 {
                return Err(invalid(format!(
                    "hyperparameter '{name}': {value} is not positive"
                )));
            }
            let f = fraction(v.ln(), low.ln(), high.ln())?;
            Ok(Cell::Scalar {
                fraction: f,
                unit: f,
            })
        }
        Dimension::Integer { low, high } => {
            let v = number()?;
            if v.fract() != 0.0 {
                return Err(invalid(format!(
                    "hyperparameter '{name}': {value} is not a whole number"
                )));
            }
            let (low, high) = (*low as f64, *high as f64);
            Ok(Cell::Scalar {
                fraction: fraction(v, low, high)?,
                unit: (v - low + 0.5) / (high - low + 1.0),
            })
        }
        Dimension::Categorical { values } => values
            .iter()
            .position(|c| same_choice(c, value))
            .map(|index| Cell::Choice {
                index,
                count: values.len(),
            })
            .ok_or_else(|| {
                invalid(format!(
                    "hyperparameter '{name}': {value} is not one of the choices"
                ))
            }),
    }
}

/// JSON equality, except that numbers compare by value (`1` is the choice `1.0`).
fn same_choice(choice: &Value, value: &Value) -> bool {
    match (choice, value) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => choice == value,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn encoded(dim: &Dimension, value: &Value) -> Vec<f64> {
        let mut out = Vec::new();
        locate("p", dim, value).unwrap().encode(&mut out);
        out
    }

    fn encoded_unit(dim: &Dimension, u: f64) -> Vec<f64> {
        let mut out = Vec::new();
        encode_unit(dim, u, &mut out);
        out
    }

    #[test]
    fn real_values_span_the_range() {
        let dim = Dimension::Real {
            low: -2.0,
            high: 6.0,
        };
        assert_eq!(decode(&dim, 0.0), json!(-2.0));
        assert_eq!(decode(&dim, 0.5), json!(2.0));
        assert_eq!(decode(&dim, 1.0), json!(6.0));
        assert_eq!(decode(&dim, 1.7), json!(6.0), "clamped");
        assert_eq!(encoded(&dim, &decode(&dim, 0.25)), [0.25]);
    }

    #[test]
    fn integers_are_whole_numbers_with_equal_slices() {
        let dim = Dimension::Integer { low: 2, high: 5 };
        let got: Vec<Value> = [0.0, 0.24, 0.26, 0.49, 0.51, 0.74, 0.76, 1.0]
            .iter()
            .map(|u| decode(&dim, *u))
            .collect();
        let want = [2, 2, 3, 3, 4, 4, 5, 5].map(|v| json!(v));
        assert_eq!(got, want);
        assert!(decode(&dim, 0.3).is_i64());
        // Every point of an integer's slice has the snapped encoding.
        assert_eq!(encoded_unit(&dim, 0.3), encoded_unit(&dim, 0.45));
        assert_eq!(encoded(&dim, &json!(3)), [1.0 / 3.0]);
        assert_eq!(locate("p", &dim, &json!(3)).unwrap().unit(), 0.375);
    }

    #[test]
    fn log_uniform_values_are_even_on_the_log_scale() {
        let dim = Dimension::LogUniform {
            low: 1e-4,
            high: 1.0,
        };
        let v = |u: f64| decode(&dim, u).as_f64().unwrap();
        assert!((v(0.0) - 1e-4).abs() < 1e-12);
        assert!((v(0.5) - 1e-2).abs() < 1e-9);
        assert!((v(0.75) - 1e-1).abs() < 1e-9);
        assert_eq!(v(1.0), 1.0);
        assert!((encoded(&dim, &json!(0.1))[0] - 0.75).abs() < 1e-9);
    }

    #[test]
    fn categoricals_take_equal_slices_and_encode_one_hot() {
        let dim = Dimension::Categorical {
            values: vec![json!("gini"), json!("entropy"), json!(3)],
        };
        assert_eq!(decode(&dim, 0.0), json!("gini"));
        assert_eq!(decode(&dim, 0.34), json!("entropy"));
        assert_eq!(decode(&dim, 0.99), json!(3));
        assert_eq!(decode(&dim, 1.0), json!(3));
        let h = ONE_HOT;
        assert_eq!(encoded_unit(&dim, 0.5), [0.0, h, 0.0]);
        assert_eq!(
            encoded(&dim, &json!(3.0)),
            [0.0, 0.0, h],
            "numbers by value"
        );
        assert_eq!(locate("p", &dim, &json!("entropy")).unwrap().unit(), 0.5);
        assert_eq!(width(&dim), 3);
    }

    #[test]
    fn invalid_dimensions_are_refused() {
        let range = |low, high| Dimension::Real { low, high };
        let log = |low, high| Dimension::LogUniform { low, high };
        let bad = [
            range(1.0, 1.0),
            range(0.0, f64::INFINITY),
            Dimension::Integer { low: 5, high: 2 },
            Dimension::Integer { low: 2, high: 2 },
            log(0.0, 1.0),
            log(2.0, 1.0),
            Dimension::Categorical { values: vec![] },
        ];
        for dim in bad {
            let err = check("p", &dim).unwrap_err();
            assert!(
                matches!(err, Error::InvalidExperiment { .. }),
                "{dim:?}: {err}"
            );
        }
        assert!(check("p", &log(1e-5, 1.0)).is_ok());
    }
}
